import { randomUUID } from 'node:crypto';
import { errorCode } from '../../util/errors.ts';
import type { EngineApi } from '../engine_client/engine_client_types.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import type { ServiceContext } from './service_context.ts';
import { GroupNotPausableError, SnapshotBarrierLostError, VolumeNotReadyError } from './service_errors.ts';
import { inSync, nexusNameOf } from './nexus_acts.ts';
import { replicasOf, splitPoolId, type StoredReplica, type StoredVolume } from './service_records.ts';

export type SnapshotCopy = SnapshotSpec['replicaSnapshots'][number];

/**
 * How long a nexus may hold writes for one snapshot (or group). The engine drains
 * writes in flight, then the control plane asks each replica's engine for an instant
 * snapshot: milliseconds on an idle machine; the lease only bounds a lost control plane.
 */
export const SNAPSHOT_PAUSE_LEASE_MS = 5_000;

export interface CutTarget {
  readonly volume: StoredVolume;
  readonly snapshotId: string;
}

export interface CutResult {
  readonly volumeId: string;
  readonly snapshotId: string;
  readonly copies: SnapshotCopy[];
  /** Milliseconds the engine took to drain writes in flight (absent: the volume had no nexus to pause). */
  readonly drainMs?: number;
}

/** Every replica a snapshot of the volume could be cut on: what an interrupted create cleans up. */
export async function possibleCopies(ctx: ServiceContext, volumeId: string): Promise<SnapshotCopy[]> {
  return (await replicasOf(ctx.store, volumeId)).map((r) => ({ replicaId: r.id, poolId: r.poolId }));
}

/** The node running the volume's nexus, published or syncing; undefined when no nexus writes to it. */
function nexusNodeOf(volume: StoredVolume): string | undefined {
  return volume.nexus?.nodeId ?? volume.syncNexus?.nodeId;
}

/**
 * Cuts a snapshot of every target at one point in time (docs/nexus.md "Snapshot barrier"):
 * pauses each target's nexus (lease-bounded; the engine answers once writes in flight are
 * done on every child and names the in-sync children), snapshots each of those replicas
 * on its engine, then resumes every nexus. A volume with no nexus is written by nobody
 * (unpublished) or through one pool volume (single replica, published) whose snapshot is
 * atomic on its own; at most one such published volume may join a group, since nothing
 * holds its writes while the others are cut. If any pause ended by its lease before its
 * resume, the cut is not one point: SnapshotBarrierLostError, and the caller's undo
 * removes what was cut. A degraded volume is cut on its in-sync replicas only.
 */
export async function cutAtOnePoint(ctx: ServiceContext, targets: readonly CutTarget[], leaseMs = SNAPSHOT_PAUSE_LEASE_MS): Promise<CutResult[]> {
  const unheld = targets.filter((t) => nexusNodeOf(t.volume) === undefined && t.volume.target !== undefined).map((t) => t.volume.id);
  if (unheld.length > 1) throw new GroupNotPausableError(unheld);
  const token = `snap-${randomUUID()}`;
  const paused: { engine: EngineApi; name: string; volumeId: string }[] = [];
  let results: CutResult[] | undefined;
  let failure: unknown;
  try {
    results = await Promise.all(targets.map((t) => planCut(ctx, t, token, leaseMs, paused)));
    await Promise.all(results.flatMap((r) => r.copies.map((c) => cutCopy(ctx, c, r.snapshotId))));
  } catch (err) {
    failure = err;
  }
  const lost: string[] = [];
  await Promise.all(paused.map(async (p) => {
    try {
      await p.engine.resumeNexus(p.name, token);
    } catch (err) {
      // Not resumed by us: either the lease already let the writes go, or the engine is gone (its lease will).
      lost.push(p.volumeId);
      ctx.log.warn({ volume: p.volumeId, code: errorCode(err) }, 'snapshot barrier: resume failed');
    }
  }));
  if (failure !== undefined) throw failure;
  if (lost.length > 0) throw new SnapshotBarrierLostError(lost.sort());
  return results as CutResult[];
}

async function planCut(
  ctx: ServiceContext, t: CutTarget, token: string, leaseMs: number, paused: { engine: EngineApi; name: string; volumeId: string }[],
): Promise<CutResult> {
  const replicas = await replicasOf(ctx.store, t.volume.id);
  const node = nexusNodeOf(t.volume);
  let held: StoredReplica[];
  let drainMs: number | undefined;
  if (node === undefined) {
    // A replica still awaiting its rebuild (a replacement, a blank copy of a clone) holds no valid image.
    held = replicas.filter(inSync);
  } else {
    const engine = await ctx.engineOf(node);
    const name = nexusNameOf(t.volume.id);
    const pause = await engine.pauseNexus(name, { token, leaseMs });
    paused.push({ engine, name, volumeId: t.volume.id });
    drainMs = pause.pausedMs;
    // The nexus, not the record, knows who holds every acknowledged write right now.
    const online = new Set(pause.online.map((c) => `${c.pool}/${c.volume}`));
    held = replicas.filter((r) => online.has(`${splitPoolId(r.poolId).pool}/${r.id}`));
  }
  if (held.length === 0) throw new VolumeNotReadyError(t.volume.id, 'without a healthy replica');
  return {
    volumeId: t.volume.id, snapshotId: t.snapshotId, copies: held.map((r) => ({ replicaId: r.id, poolId: r.poolId })),
    ...(drainMs !== undefined ? { drainMs } : {}),
  };
}

/**
 * A copy left by an earlier attempt (SNAPSHOT_EXISTS) is from another point in time, so
 * it fails the cut rather than being adopted: the caller's undo removes it with the rest.
 */
async function cutCopy(ctx: ServiceContext, c: SnapshotCopy, snapshotId: string): Promise<void> {
  const { nodeId, pool } = splitPoolId(c.poolId);
  await (await ctx.engineOf(nodeId)).createSnapshot({ pool, volume: c.replicaId, name: snapshotId });
}
