import { OperationInProgressError } from '../model/intent_log.ts';
import { SpecLifecycle } from '../model/spec_common.ts';
import { MAX_REPLICAS } from '../placement/placement_types.ts';
import { removeReplica, replicaSpecOf, saveReplica } from './replica_operations.ts';
import type { ServiceContext } from './service_context.ts';
import { InvalidArgumentError, VolumeNotFoundError, VolumeNotReadyError, VolumePublishedError } from './service_errors.ts';
import { deleteSpec, putSpec, readRecord, replicaKey, replicasOf, volumeKey, type StoredReplica, type StoredVolume } from './service_records.ts';
import { planReplicas } from './volume_placement.ts';

/**
 * Change how many replicas a volume wants (CSI ControllerModifyVolume with a
 * VolumeAttributesClass whose `replicas` differs).
 *
 * Raising places the new replicas as a node-loss replacement is placed (spread against
 * the existing ones, in the volume's zone when it is zone-local) and records them
 * `creating` and awaiting their rebuild: create_missing makes them, and the live nexus
 * (published) or background_rebuild (unpublished) copies the data in. A single-replica
 * volume published straight from its engine has no nexus: its new replica is rebuilt at
 * its next publish. The replica specs are saved before the wanted count, so a crash in
 * between leaves spare copies, never a count nothing works towards; a retry counts them.
 *
 * Lowering removes replicas — the ones that hold no data yet first — only while the
 * volume is not published and no background rebuild runs (no nexus reads them).
 */
export async function setReplicaCount(ctx: ServiceContext, id: string, replicas: number): Promise<StoredVolume> {
  await ctx.requireLeader();
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) throw new InvalidArgumentError(`replicas must be 1–${MAX_REPLICAS}`);
  const key = volumeKey(id);
  return await ctx.locks.with(key, async () => {
    const rec = await readRecord<StoredVolume>(ctx.store, key);
    if (rec?.record.pending) throw new OperationInProgressError(key);
    const volume = rec?.record.spec;
    if (volume == null) throw new VolumeNotFoundError(id);
    if (volume.lifecycle !== SpecLifecycle.Created) throw new VolumeNotReadyError(id, volume.lifecycle);
    const current = await replicasOf(ctx.store, id);
    const live = current.filter((r) => r.faulted === undefined);
    if (replicas > live.length) await addReplicas(ctx, volume, current, replicas - live.length);
    if (replicas < live.length) await dropReplicas(ctx, volume, live, live.length - replicas);
    const next: StoredVolume = { ...volume, replicas };
    if (volume.replicas !== replicas) {
      await putSpec(ctx.store, key, next, ctx.fence());
      ctx.log.info({ volume: id, from: volume.replicas, to: replicas }, 'replica count changed');
    }
    return next;
  });
}

async function addReplicas(ctx: ServiceContext, volume: StoredVolume, current: readonly StoredReplica[], count: number): Promise<void> {
  const live = current.filter((r) => r.faulted === undefined);
  if (!live.some((r) => r.awaitingRebuild !== true)) throw new VolumeNotReadyError(volume.id, 'without an in-sync replica to copy from');
  const plans = await planReplicas(ctx, volume, count, {
    existingPools: live.map((r) => r.poolId),
    avoidPools: current.filter((r) => r.faulted !== undefined).map((r) => r.poolId),
  });
  for (const p of plans) {
    await saveReplica(ctx, { ...replicaSpecOf(p, volume.id, volume.sizeBytes, volume.thin, SpecLifecycle.Creating), awaitingRebuild: true });
    ctx.log.info({ volume: volume.id, replica: p.id, pool: p.poolId }, 'replica added');
  }
}

async function dropReplicas(ctx: ServiceContext, volume: StoredVolume, live: readonly StoredReplica[], count: number): Promise<void> {
  if (volume.publishedNodeId !== undefined) throw new VolumePublishedError(volume.id, volume.publishedNodeId);
  if (volume.syncNexus !== undefined) throw new VolumeNotReadyError(volume.id, 'rebuilding its replicas in the background');
  // Copies still waiting for their data go first; an in-sync copy is always kept.
  const order = [...live].sort((a, b) => Number(b.awaitingRebuild === true) - Number(a.awaitingRebuild === true));
  for (const r of order.slice(0, count)) {
    await removeReplica(ctx, r);
    await deleteSpec(ctx.store, replicaKey(r.id), ctx.fence());
    ctx.log.info({ volume: volume.id, replica: r.id, pool: r.poolId }, 'replica removed');
  }
}
