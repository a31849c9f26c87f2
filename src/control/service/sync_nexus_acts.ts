import type { ServiceContext } from './service_context.ts';
import { ensureNexusIncarnation, nexusNameOf } from './nexus_acts.ts';
import { saveReplica } from './replica_operations.ts';
import { replicasOf, type StoredVolume, type VolumeOp } from './service_records.ts';

/**
 * The data-plane steps of a background rebuild ("act" in the intent log): an unpublished
 * replicated volume whose replicas are not all in sync gets a nexus that is never
 * exported — in-sync replicas `online`, the others `stale`, so the engine copies into
 * them — and loses it again once they are in sync. Both steps are idempotent, so the
 * pending-intent reconciler finishes one a crash cut short the same way.
 */

type StartSyncOp = Extract<VolumeOp, { type: 'start-sync-nexus' }>;

/** Create (or reuse) the unexported incarnation `op.generation` on `op.nexusNodeId`. */
export async function startSyncNexus(ctx: ServiceContext, volume: StoredVolume, op: StartSyncOp): Promise<StoredVolume> {
  const { created } = await ensureNexusIncarnation(ctx, volume, op.nexusNodeId, op.generation);
  if (created) ctx.log.info({ volume: volume.id, node: op.nexusNodeId, generation: op.generation }, 'background rebuild nexus created (not exported)');
  return {
    ...volume,
    syncNexus: { nodeId: op.nexusNodeId, generation: op.generation },
    nexusGeneration: Math.max(op.generation, volume.nexusGeneration ?? 0),
  };
}

/**
 * Destroy the background nexus and forget it. One on a node that is not online is left
 * to its engine: any later incarnation has a higher generation and fences it. A nexus
 * of another generation under the name is not ours to remove.
 */
export async function endSyncNexus(ctx: ServiceContext, volume: StoredVolume): Promise<StoredVolume> {
  const s = volume.syncNexus;
  if (s === undefined) return volume;
  if (ctx.nodeOnline(s.nodeId)) {
    const engine = await ctx.engineOf(s.nodeId);
    const name = nexusNameOf(volume.id);
    const nexus = await engine.getNexus(name);
    if (nexus !== undefined && nexus.generation === s.generation) {
      if (nexus.export !== null) await engine.unexportNexus(name);
      await engine.destroyNexus(name);
      ctx.log.info({ volume: volume.id, node: s.nodeId, generation: s.generation }, 'background rebuild nexus destroyed');
    }
  }
  // Progress of a copy that stopped is no longer true; the next nexus reports its own.
  for (const r of await replicasOf(ctx.store, volume.id)) {
    if (r.rebuildProgress === undefined) continue;
    const { rebuildProgress: _p, ...reset } = r;
    await saveReplica(ctx, reset);
  }
  const { syncNexus: _s, ...rest } = volume;
  return rest;
}
