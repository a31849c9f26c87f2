import { ResourceKind } from '../model/spec_common.ts';
import { placeReplicas } from '../placement/placement_index.ts';
import type { Fleet, FleetPool } from '../placement/placement_types.ts';
import type { ServiceContext } from './service_context.ts';
import { listSpecs, type ReplicaPlan, type StoredReplica, type StoredVolume } from './service_records.ts';
import { newReplicaId } from './replica_operations.ts';

/**
 * The fleet placement sees: the registry's last reports, with each pool's committed
 * bytes raised to what the stored replica specs say, so two volumes placed between
 * two heartbeats do not both count on the same free space.
 * (Reads every replica spec: fine for thousands; a per-pool counter would replace it.)
 */
export async function placementFleet(ctx: ServiceContext): Promise<Fleet> {
  const fleet = ctx.registry.fleet();
  const committed = new Map<string, number>();
  const count = new Map<string, number>();
  for (const r of await listSpecs<StoredReplica>(ctx.store, ResourceKind.Replica)) {
    committed.set(r.poolId, (committed.get(r.poolId) ?? 0) + r.sizeBytes);
    count.set(r.poolId, (count.get(r.poolId) ?? 0) + 1);
  }
  const pools: FleetPool[] = fleet.pools.map((p) => ({
    ...p,
    committedBytes: Math.max(p.committedBytes, committed.get(p.id) ?? 0),
    replicaCount: Math.max(p.replicaCount, count.get(p.id) ?? 0),
  }));
  return { nodes: fleet.nodes, pools };
}

/** Choose pools for `count` new replicas of the volume; PLACEMENT_FAILED explains a refusal. */
export async function planReplicas(
  ctx: ServiceContext, volume: StoredVolume, count: number,
  keep: { existingPools?: readonly string[]; avoidPools?: readonly string[] } = {},
): Promise<ReplicaPlan[]> {
  const fleet = await placementFleet(ctx);
  const result = placeReplicas(fleet, {
    replicas: count,
    sizeBytes: volume.sizeBytes,
    thin: volume.thin,
    media: volume.media,
    requiredTags: volume.requiredTags,
    excludedTags: volume.excludedTags,
    storageGroup: volume.storageGroup,
    spread: { domain: volume.spread.domain, strict: volume.spread.strict },
    existingPools: keep.existingPools,
    avoidPools: keep.avoidPools,
  });
  const nodeOf = new Map(fleet.pools.map((p) => [p.id, p.nodeId]));
  return result.pools.map((poolId) => ({ id: newReplicaId(), poolId, nodeId: nodeOf.get(poolId) as string }));
}
