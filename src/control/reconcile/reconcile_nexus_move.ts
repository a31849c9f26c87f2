import { errorCode } from '../../util/errors.ts';
import { ResourceKind } from '../model/spec_common.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { buildNexus, chooseNexusNode } from '../service/nexus_acts.ts';
import { listRecords, kindPrefixOf, readRecord, replicasOf, volumeKey, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import type { Reconciler } from './reconcile_types.ts';

/**
 * Recreate a nexus whose node is lost.
 *
 * Given a published replicated volume with no operation pending whose nexus runs on a
 * node lost past the grace period (the same clock as node_loss, so a reboot or a short
 * partition keeps the nexus where it is and the initiator simply reconnects),
 * when an in-sync replica sits on an online node,
 * then a new incarnation of the nexus is created there with generation + 1 — the engine
 * fences every replica it opens with it, so the old nexus, should its node come back,
 * can no longer write — exported with the same target name and initiator ACL, and the
 * volume's record (target portal, nexus spec, generation) is updated under the intent
 * log. Its replicas still awaiting a rebuild join as stale and are rebuilt.
 * A volume with no reachable in-sync replica stays as it is until one returns.
 */
export const moveLostNexuses: Reconciler = {
  name: 'nexus_move',
  async run(ctx) {
    const now = ctx.now();
    ctx.registry.tick(now);
    const lost = new Set(ctx.registry.lost(now));
    if (lost.size === 0) return 0;
    let changed = 0;
    for (const rec of await listRecords<StoredVolume, VolumeOp>(ctx.store, kindPrefixOf(ResourceKind.Volume))) {
      const v = rec.record.spec;
      if (v === null || rec.record.pending !== null || v.nexus === undefined || !lost.has(v.nexus.nodeId)) continue;
      changed += await ctx.locks.with(volumeKey(v.id), async () => {
        try {
          return await moveNexus(ctx, v.id, lost);
        } catch (err) {
          ctx.log.warn({ volume: v.id, code: errorCode(err), message: (err as Error).message }, 'cannot move the nexus yet');
          return 0;
        }
      });
    }
    return changed;
  },
};

async function moveNexus(ctx: ServiceContext, volumeId: string, lost: ReadonlySet<string>): Promise<number> {
  const key = volumeKey(volumeId);
  // Read again under the lock: a request may have unpublished or moved it meanwhile.
  const rec = await readRecord<StoredVolume, VolumeOp>(ctx.store, key);
  const v = rec?.record.spec;
  if (v == null || rec?.record.pending || v.nexus === undefined || !lost.has(v.nexus.nodeId)) return 0;
  const replicas = await replicasOf(ctx.store, volumeId);
  const nexusNodeId = chooseNexusNode(ctx, replicas, v.publishedNodeId, v.nexus.nodeId);
  if (nexusNodeId === undefined) return 0;
  const generation = Math.max(v.nexus.generation, v.nexusGeneration ?? 0) + 1;
  const op = { type: 'move-nexus' as const, nexusNodeId, generation };
  await ctx.volumes.run(key, op, async () => buildNexus(ctx, v, op));
  ctx.log.warn({ volume: volumeId, from: v.nexus.nodeId, to: nexusNodeId, generation }, 'nexus recreated on another node');
  return 1;
}
