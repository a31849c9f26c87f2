import { errorCode } from '../../util/errors.ts';
import { isTransient } from '../engine_client/engine_client_errors.ts';
import { SpecLifecycle } from '../model/spec_common.ts';
import type { ServiceContext } from './service_context.ts';
import { ensureReplica, removeReplica, replicaSpecOf, saveReplica, type ReplicaSource } from './replica_operations.ts';
import { VolumeNotReadyError } from './service_errors.ts';
import { buildNexus, inSync, teardownNexus } from './nexus_acts.ts';
import { endSyncNexus } from './sync_nexus_acts.ts';
import { cloneSeedsAtOnePoint } from './clone_seeds.ts';
import { chapField, exportChapOf, exportHasChap } from './export_chap.ts';
import {
  PODS_PREFIX, deleteSpec, listRecords, readRecord, replicaKey, replicasOf, splitPoolId, volumeKey,
  type ReplicaPlan, type StoredVolume, type VolumeOp,
} from './service_records.ts';

/**
 * The data-plane half of each volume operation ("act" in the intent log). The REST
 * path and the pending-intent reconciler run the same functions, so an operation a
 * crash interrupted is finished exactly as it would have been. Each is idempotent.
 */

type CreateOp = Extract<VolumeOp, { type: 'create' }>;
type PublishOp = Extract<VolumeOp, { type: 'publish' }>;

/** Create every planned replica, record their specs, and return the created volume. */
export async function provisionVolume(ctx: ServiceContext, op: CreateOp): Promise<StoredVolume> {
  const v = op.spec;
  const seeds = op.replicas.filter((p) => p.blank !== true);
  if (v.sourceVolumeId !== undefined && seeds.length > 1) {
    // Copies of a live volume in several pools: one point in time for all (clone_seeds.ts).
    await cloneSeedsAtOnePoint(ctx, v, seeds);
    await Promise.all(op.replicas.filter((p) => p.blank === true).map((p) => ensureReplica(ctx, p, v.sizeBytes, v.thin, {})));
  } else {
    const sources = await Promise.all(op.replicas.map((p) => (p.blank === true ? {} : replicaSourceOf(ctx, v, p))));
    await Promise.all(op.replicas.map((p, i) => ensureReplica(ctx, p, v.sizeBytes, v.thin, sources[i])));
  }
  await ctx.faults.hit('volume-create:after-engine');
  for (const p of op.replicas) {
    const spec = replicaSpecOf(p, v.id, v.sizeBytes, v.thin, SpecLifecycle.Created);
    await saveReplica(ctx, p.blank === true ? { ...spec, awaitingRebuild: true } : spec);
  }
  return { ...v, lifecycle: SpecLifecycle.Created };
}

/**
 * What a new replica of the volume starts from. A clone's replica copies the source
 * volume's replica in the same pool (engines copy only within a pool; planFromVolume put
 * it there); the lookup is by pool, so a reconciler finishing the create finds the same one.
 */
async function replicaSourceOf(ctx: ServiceContext, v: StoredVolume, plan: ReplicaPlan): Promise<ReplicaSource> {
  if (v.sourceSnapshotId !== undefined) return { fromSnapshot: v.sourceSnapshotId };
  if (v.sourceVolumeId === undefined) return {};
  const source = (await replicasOf(ctx.store, v.sourceVolumeId)).find((r) => r.poolId === plan.poolId && inSync(r));
  if (source === undefined) throw new VolumeNotReadyError(v.sourceVolumeId, `without a healthy replica in pool ${plan.poolId} to clone`);
  return { fromVolume: source.id };
}

/** Undo a create: remove what a partial attempt may have made (offline nodes: orphan cleanup). */
export async function unprovisionVolume(ctx: ServiceContext, plans: readonly ReplicaPlan[]): Promise<void> {
  for (const p of plans) {
    await removeReplica(ctx, p);
    await deleteSpec(ctx.store, replicaKey(p.id), ctx.fence());
  }
}

/** Remove the volume's replicas (and export) from the engines, then its replica and pod records. */
export async function teardownVolume(ctx: ServiceContext, volumeId: string): Promise<void> {
  // The engine refuses to remove a replica its nexus still uses.
  const volume = (await readRecord<StoredVolume>(ctx.store, volumeKey(volumeId)))?.record.spec;
  if (volume != null) await teardownNexus(ctx, await endSyncNexus(ctx, volume));
  for (const r of await replicasOf(ctx.store, volumeId)) {
    await removeReplica(ctx, r);
    await deleteSpec(ctx.store, replicaKey(r.id), ctx.fence());
  }
  for (const pod of await listRecords(ctx.store, `${PODS_PREFIX}${volumeId}/`)) await deleteSpec(ctx.store, pod.key, ctx.fence());
}

/**
 * Export the serving replica to the one initiator, demanding the op's CHAP; an export
 * left by an earlier try is reused, one with other CHAP secrets (a new seal) is redone.
 */
export async function exportVolume(ctx: ServiceContext, volume: StoredVolume, op: PublishOp): Promise<StoredVolume> {
  const replica = (await replicasOf(ctx.store, volume.id)).find((r) => r.id === op.replicaId);
  if (replica === undefined) throw new Error(`replica ${op.replicaId} of volume ${volume.id} has no spec`);
  const engine = await ctx.engineOf(replica.nodeId);
  const { pool } = splitPoolId(replica.poolId);
  const existing = await engine.getExport(pool, replica.id);
  const chap = exportChapOf(ctx, volume.id, op.chap);
  const sameAcl = existing !== undefined && existing.targetIqn === op.targetIqn &&
    existing.allowedInitiators?.length === 1 && existing.allowedInitiators[0] === op.initiatorIqn &&
    exportHasChap(existing, op.chap) && op.chap?.sealed === volume.chap?.sealed;
  if (existing !== undefined && !sameAcl) await engine.destroyExport(pool, replica.id);
  const ex = sameAcl ? existing : await engine.createExport({
    pool, volume: replica.id, targetIqn: op.targetIqn, allowedInitiators: [op.initiatorIqn], ...chapField(chap),
  });
  const { chap: _old, ...rest } = volume;
  return {
    ...rest,
    ...(op.chap !== undefined ? { chap: op.chap } : {}),
    publishedNodeId: op.nodeId,
    initiatorIqn: op.initiatorIqn,
    target: { iqn: ex.targetIqn, portal: ex.portal, url: ex.url, replicaId: replica.id },
  };
}

export async function unexportVolume(ctx: ServiceContext, volume: StoredVolume): Promise<StoredVolume> {
  const t = volume.target;
  if (volume.nexus !== undefined) {
    await teardownNexus(ctx, volume);
  } else if (t?.replicaId !== undefined) {
    const replica = (await replicasOf(ctx.store, volume.id)).find((r) => r.id === t.replicaId);
    if (replica !== undefined && ctx.nodeOnline(replica.nodeId)) {
      const engine = await ctx.engineOf(replica.nodeId);
      await engine.destroyExport(splitPoolId(replica.poolId).pool, replica.id);
    }
  }
  const { target: _t, initiatorIqn: _i, publishedNodeId: _p, nexus: _n, chap: _c, ...rest } = volume;
  return rest;
}

/** Grow every replica; a replica already at the size is left alone. */
export async function resizeVolume(ctx: ServiceContext, given: StoredVolume, sizeBytes: number): Promise<StoredVolume> {
  // A background rebuild's nexus has the old geometry: it goes, and background_rebuild starts a new one.
  const volume = await endSyncNexus(ctx, given);
  for (const r of await replicasOf(ctx.store, volume.id)) {
    if (r.faulted !== undefined) continue;
    const engine = await ctx.engineOf(r.nodeId);
    const { pool } = splitPoolId(r.poolId);
    const current = await engine.getReplica(pool, r.id);
    if (current !== undefined && current.sizeBytes < sizeBytes) await engine.resizeReplica(pool, r.id, sizeBytes);
    await saveReplica(ctx, { ...r, sizeBytes });
  }
  const grown = { ...volume, sizeBytes };
  return volume.nexus !== undefined && ctx.nodeOnline(volume.nexus.nodeId) ? await regrowNexus(ctx, grown) : grown;
}

/**
 * A live nexus has a fixed geometry, so a grown replicated volume gets a new incarnation
 * of its nexus (generation + 1, as a move does) on the same node at the new size, exported
 * under the same target name: the initiator reconnects and reads the new capacity. A
 * retry after a crash computes the same generation and reuses what the first try made.
 */
async function regrowNexus(ctx: ServiceContext, volume: StoredVolume): Promise<StoredVolume> {
  const n = volume.nexus!;
  const generation = Math.max(n.generation, volume.nexusGeneration ?? 0) + 1;
  return await buildNexus(ctx, volume, { type: 'move-nexus', nexusNodeId: n.nodeId, generation });
}

/** Engine failures that say "ask again later" rather than "this cannot be done". */
export function isRetryable(err: unknown): boolean {
  const code = errorCode(err);
  return isTransient(err) || code === 'NODE_OFFLINE' || code === 'STORE_UNAVAILABLE';
}
