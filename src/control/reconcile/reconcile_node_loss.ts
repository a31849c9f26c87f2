import { errorCode } from '../../util/errors.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { replicaSpecOf, saveReplica } from '../service/replica_operations.ts';
import { listSpecs, readRecord, replicasOf, volumeKey, type StoredReplica, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import { planReplicas } from '../service/volume_placement.ts';
import type { Reconciler } from './reconcile_types.ts';

/**
 * Replace replicas on lost nodes.
 *
 * Given a node offline for longer than the registry's grace period (default: 15 s
 * heartbeat deadline, then 5 minutes — docs/control-plane.md), so a reboot or a short
 * partition never starts a full rebuild,
 * when a replica spec points at that node and is not yet marked faulted,
 * then it is marked faulted, and a volume left with fewer healthy replicas than wanted
 * gets replacements placed (avoiding the faulted pools, spreading against the survivors)
 * and recorded `creating`; create_missing then creates them. A volume with no healthy
 * replica left gets none: an empty replica would only hide the loss.
 * The replacement is created empty and marked awaiting its rebuild: nexus_replicas adds
 * it to the live nexus of a published volume, background_rebuild to an unexported nexus
 * of its own for an unpublished one; the nexus copies the data in, and only then is it
 * counted as a healthy copy; until then the volume stays degraded.
 */
export const replaceLostReplicas: Reconciler = {
  name: 'node_loss',
  async run(ctx) {
    const now = ctx.now();
    ctx.registry.tick(now);
    const lost = new Set(ctx.registry.lost(now));
    if (lost.size === 0) return 0;
    let changed = 0;
    const affected = new Set<string>();
    for (const r of await listSpecs<StoredReplica>(ctx.store, ResourceKind.Replica)) {
      if (lost.has(r.nodeId) && r.faulted === undefined) affected.add(r.volumeId);
    }
    for (const volumeId of affected) {
      changed += await ctx.locks.with(volumeKey(volumeId), async () => {
        try {
          return await replaceFor(ctx, volumeId, lost, now);
        } catch (err) {
          ctx.log.warn({ volume: volumeId, code: errorCode(err), message: (err as Error).message }, 'cannot replace lost replicas yet');
          return 0;
        }
      });
    }
    return changed;
  },
};

async function replaceFor(ctx: ServiceContext, volumeId: string, lost: ReadonlySet<string>, now: number): Promise<number> {
  const rec = await readRecord<StoredVolume, VolumeOp>(ctx.store, volumeKey(volumeId));
  const volume = rec?.record.spec;
  // A pending operation is the pending reconciler's business; a half-made volume has nothing to heal.
  if (volume == null || rec?.record.pending || volume.lifecycle !== SpecLifecycle.Created) return 0;
  let changed = 0;
  const replicas = await replicasOf(ctx.store, volumeId);
  for (const r of replicas) {
    if (!lost.has(r.nodeId) || r.faulted !== undefined) continue;
    await saveReplica(ctx, { ...r, faulted: { reason: `node ${r.nodeId} lost`, atMs: now } });
    ctx.log.warn({ volume: volumeId, replica: r.id, node: r.nodeId }, 'replica faulted: node lost');
    changed++;
  }
  const current = await replicasOf(ctx.store, volumeId);
  // Replacements awaiting their rebuild count as placed (not placed again), not as copies of the data.
  const healthy = current.filter((r) => r.faulted === undefined);
  if (!healthy.some((r) => r.awaitingRebuild !== true)) return changed;
  const missing = volume.replicas - healthy.length;
  if (missing <= 0) return changed;
  const plans = await planReplicas(ctx, volume, missing, {
    existingPools: healthy.map((r) => r.poolId),
    avoidPools: current.filter((r) => r.faulted !== undefined).map((r) => r.poolId),
  });
  for (const p of plans) {
    await saveReplica(ctx, { ...replicaSpecOf(p, volumeId, volume.sizeBytes, volume.thin, SpecLifecycle.Creating), awaitingRebuild: true });
    ctx.log.info({ volume: volumeId, replica: p.id, pool: p.poolId }, 'replacement replica placed');
    changed++;
  }
  return changed;
}
