/**
 * The reconciler that writes the event log: each pass it observes nodes (the registry),
 * pools (their heartbeats), volumes with their replicas, and snapshots, diffs that with
 * the previous pass (event_build.ts), adds the placement refusals noted since
 * (event_refusal.ts), and appends the events. It runs in the leader's reconcile loop
 * like every other reconciler; a new leader starts with a fresh baseline.
 */
import type { Reconciler } from '../reconcile/reconcile_types.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { ResourceKind } from '../model/spec_common.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import type { NodeSpec } from '../model/node_spec.ts';
import { kindPrefixOf, listRecords, listSpecs, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import { volumeViews } from '../service/volume_view.ts';
import { takeRecentRefusals } from '../service/placement_refusals.ts';
import { diffObservations, type Observation } from './event_build.ts';
import { refusalEvents } from './event_refusal.ts';
import type { EventLog } from './event_log.ts';

export async function observe(ctx: ServiceContext): Promise<Observation> {
  const now = ctx.now();
  const lost = new Set(ctx.registry.lost(now));
  const nodes = (await listSpecs<NodeSpec>(ctx.store, ResourceKind.Node)).map((n) => ({
    id: n.id, status: ctx.registry.state(n.id)?.status ?? 'unknown', lost: lost.has(n.id),
  }));
  const pools = ctx.registry.fleet().pools.map((p) => ({ id: p.id, nodeId: p.nodeId, health: p.health }));
  const records = await listRecords<StoredVolume, VolumeOp>(ctx.store, kindPrefixOf(ResourceKind.Volume));
  const entries = records.flatMap((r) => (r.record.spec == null ? [] : [{ volume: r.record.spec, pending: r.record.pending?.op.type }]));
  const volumes = (await volumeViews(ctx, entries)).map((v) => ({
    id: v.id, name: v.name, status: v.status, lifecycle: v.lifecycle, wanted: v.replicas,
    replicas: v.replicaStates.map((r) => ({
      id: r.id, nodeId: r.nodeId, poolId: r.poolId, status: r.status, awaitingRebuild: r.awaitingRebuild === true,
      ...(r.faulted !== undefined ? { faultedReason: r.faulted.reason } : {}),
    })),
  }));
  const snapshots = (await listSpecs<SnapshotSpec>(ctx.store, ResourceKind.Snapshot)).map((s) => ({
    id: s.id, name: s.name, volumeId: s.volumeId, sizeBytes: s.sizeBytes,
  }));
  return { nodes, pools, volumes, snapshots };
}

export class EventRecorder implements Reconciler {
  readonly name = 'events';
  readonly #log: EventLog;
  #previous: Observation | undefined;
  /** The leadership term the baseline was taken in (the fence's create revision; undefined with SQLite). */
  #term: number | undefined;
  readonly #refusalsLogged = new Map<string, number>();

  constructor(log: EventLog) {
    this.#log = log;
  }

  async run(ctx: ServiceContext): Promise<number> {
    // A new term (etcd: another lease) starts from a fresh baseline: what changed while another leader led is its to record.
    const term = ctx.fence()?.createRevision;
    if (term !== this.#term) this.#previous = undefined;
    this.#term = term;
    const next = await observe(ctx);
    const drafts = [...diffObservations(this.#previous, next, ctx.now()), ...refusalEvents(takeRecentRefusals(), this.#refusalsLogged)];
    // The baseline moves only once the events are stored: a failed append is retried next pass.
    await this.#log.append(drafts);
    this.#previous = next;
    for (const d of drafts) ctx.log.info({ event: d.type, object: d.object, reason: d.reason }, d.message);
    return drafts.length;
  }
}
