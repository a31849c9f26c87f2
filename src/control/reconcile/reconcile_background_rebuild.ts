import { errorCode } from '../../util/errors.ts';
import type { EngineNexusReplica } from '../engine_client/engine_client_types.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { chooseNexusNode, nexusChildOf, nexusNameOf, nexusRefOf } from '../service/nexus_acts.ts';
import { endSyncNexus, startSyncNexus } from '../service/sync_nexus_acts.ts';
import {
  listRecords, kindPrefixOf, readRecord, replicasOf, volumeKey, type StoredReplica, type StoredVolume, type VolumeOp,
} from '../service/service_records.ts';
import type { Reconciler } from './reconcile_types.ts';
import { CHILD_ONLINE, noteRebuild } from './reconcile_rebuild_progress.ts';

/** The engine's word for a child it gave up on. */
const CHILD_FAULTED = 'faulted';

/**
 * Bring an unpublished volume's replicas in sync without waiting for a publish.
 *
 * Given a created replicated volume with no operation pending that is not published
 * (no nexus), whose replicas include created ones awaiting their rebuild (the blank
 * copies of a restore or clone, or replacements after a node loss) and an in-sync one
 * on an online node,
 * when this reconciler runs,
 * then (start) a nexus that is never exported is created on the in-sync replica's node
 * with the next generation — in-sync replicas `online`, the others `stale`, so the
 * engine copies into them — under the intent log, its generation recorded like any
 * incarnation's; (poll) each pass reads the children's states: progress is saved on the
 * replica (the API shows it `rebuilding` with rebuildProgress), a child `online` has its
 * awaitingRebuild mark cleared, a replacement created meanwhile is added, a faulted
 * replica removed; (end) when none awaits a rebuild — or the nexus is gone, of another
 * generation, on a node not online, or gave up on a copy — the nexus is destroyed under
 * the intent log; an unfinished rebuild then starts again, generation + 1, next pass.
 * A publish meanwhile tears this nexus down first and rebuilds in its own.
 */
export const backgroundRebuild: Reconciler = {
  name: 'background_rebuild',
  async run(ctx) {
    let changed = 0;
    for (const rec of await listRecords<StoredVolume, VolumeOp>(ctx.store, kindPrefixOf(ResourceKind.Volume))) {
      const v = rec.record.spec;
      if (v === null || rec.record.pending !== null || !candidate(v)) continue;
      changed += await ctx.locks.with(volumeKey(v.id), async () => {
        try {
          return await step(ctx, v.id);
        } catch (err) {
          ctx.log.warn({ volume: v.id, code: errorCode(err), message: (err as Error).message }, 'cannot rebuild in the background yet');
          return 0;
        }
      });
    }
    return changed;
  },
};

function candidate(v: StoredVolume): boolean {
  return v.lifecycle === SpecLifecycle.Created && v.replicas > 1 && v.nexus === undefined && v.publishedNodeId === undefined;
}

function awaiting(r: StoredReplica): boolean {
  return r.lifecycle === SpecLifecycle.Created && r.faulted === undefined && r.awaitingRebuild === true;
}

async function step(ctx: ServiceContext, volumeId: string): Promise<number> {
  const key = volumeKey(volumeId);
  // Read again under the lock: a request may have published or deleted it meanwhile.
  const rec = await readRecord<StoredVolume, VolumeOp>(ctx.store, key);
  const v = rec?.record.spec;
  if (v == null || rec?.record.pending || !candidate(v)) return 0;
  const replicas = await replicasOf(ctx.store, volumeId);
  if (v.syncNexus === undefined) return await start(ctx, v, replicas);
  return await poll(ctx, v, replicas);
}

async function start(ctx: ServiceContext, v: StoredVolume, replicas: readonly StoredReplica[]): Promise<number> {
  if (!replicas.some((r) => awaiting(r) && ctx.nodeOnline(r.nodeId))) return 0;
  const nexusNodeId = chooseNexusNode(ctx, replicas, undefined);
  if (nexusNodeId === undefined) return 0;
  const generation = (v.nexusGeneration ?? 0) + 1;
  const op = { type: 'start-sync-nexus' as const, nexusNodeId, generation };
  // Undone on failure, so a nexus of this generation never outlives an intent that does
  // not record it (a publish would otherwise issue the same generation elsewhere).
  await ctx.volumes.run(volumeKey(v.id), op, async () => startSyncNexus(ctx, v, op), async () => dropSyncNexus(ctx, v.id, op));
  ctx.log.info({ volume: v.id, node: nexusNodeId, generation }, 'background rebuild started');
  return 1;
}

async function dropSyncNexus(ctx: ServiceContext, volumeId: string, op: { nexusNodeId: string; generation: number }): Promise<void> {
  const engine = await ctx.engineOf(op.nexusNodeId);
  const nexus = await engine.getNexus(nexusNameOf(volumeId));
  if (nexus !== undefined && nexus.generation === op.generation) await engine.destroyNexus(nexus.name);
}

async function poll(ctx: ServiceContext, v: StoredVolume, replicas: readonly StoredReplica[]): Promise<number> {
  const s = v.syncNexus!;
  const nexus = ctx.nodeOnline(s.nodeId) ? await (await ctx.engineOf(s.nodeId)).getNexus(nexusNameOf(v.id)) : undefined;
  if (nexus === undefined || nexus.generation !== s.generation) return await end(ctx, v, 'nexus gone');
  let changed = 0;
  let gaveUp = false;
  let current = nexus;
  const synced: [StoredReplica, EngineNexusReplica][] = [];
  for (const r of replicas) {
    const child = nexusChildOf(current, r);
    if (r.faulted !== undefined) {
      if (child === undefined) continue;
      current = await (await ctx.engineOf(s.nodeId)).removeNexusReplica(current.name, child.name);
      changed++;
    } else if (child === undefined) {
      if (!awaiting(r) || !ctx.nodeOnline(r.nodeId)) continue;
      current = await (await ctx.engineOf(s.nodeId)).addNexusReplica(current.name, { ...await nexusRefOf(ctx, r, s.nodeId), full: true });
      ctx.log.info({ volume: v.id, replica: r.id }, 'replica joined the background rebuild');
      changed++;
    } else if (r.awaitingRebuild === true) {
      if (child.state === CHILD_ONLINE) synced.push([r, child]);
      else changed += await noteRebuild(ctx, r, child, 'background nexus');
      if (child.state === CHILD_FAULTED) gaveUp = true;
    }
  }
  const done = new Set(synced.map(([r]) => r.id));
  const left = (await replicasOf(ctx.store, v.id)).filter((r) => awaiting(r) && !done.has(r.id));
  // The last ones: the nexus goes before the marks clear, so a volume whose replicas all
  // show online never still has a nexus holding them (a crash between costs a second copy, not data).
  if (left.length === 0) changed += await end(ctx, v, 'replicas in sync');
  for (const [r, child] of synced) changed += await noteRebuild(ctx, r, child, 'background nexus');
  if (left.length > 0 && gaveUp) changed += await end(ctx, v, 'a rebuild failed');
  return changed;
}

async function end(ctx: ServiceContext, v: StoredVolume, why: string): Promise<number> {
  await ctx.volumes.run(volumeKey(v.id), { type: 'end-sync-nexus' as const }, async () => endSyncNexus(ctx, v));
  ctx.log.info({ volume: v.id, generation: v.syncNexus?.generation, why }, 'background rebuild nexus ended');
  return 1;
}
