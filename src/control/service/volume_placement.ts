import { ResourceKind } from '../model/spec_common.ts';
import { placeReplicas } from '../placement/placement_index.ts';
import { PlacementError } from '../placement/placement_error.ts';
import type { Fleet, FleetNode, FleetPool, PlacementRequest } from '../placement/placement_types.ts';
import type { ServiceContext } from './service_context.ts';
import {
  kindPrefixOf, listRecords, listSpecs, type ReplicaPlan, type StoredReplica, type StoredVolume, type VolumeOp,
} from './service_records.ts';
import { newReplicaId } from './replica_operations.ts';
import { countRefusal } from './placement_refusals.ts';

/**
 * The fleet placement sees: the registry's last reports, with each pool's committed
 * bytes raised to what the stored replica specs and in-flight creates say, so two
 * volumes placed between two heartbeats do not both count on the same free space.
 * (Reads every replica spec: fine for thousands; a per-pool counter would replace it.)
 */
export async function placementFleet(ctx: ServiceContext): Promise<Fleet> {
  const fleet = ctx.registry.fleet();
  const committed = new Map<string, number>();
  const count = new Map<string, number>();
  const add = (poolId: string, bytes: number): void => {
    committed.set(poolId, (committed.get(poolId) ?? 0) + bytes);
    count.set(poolId, (count.get(poolId) ?? 0) + 1);
  };
  for (const r of await listSpecs<StoredReplica>(ctx.store, ResourceKind.Replica)) add(r.poolId, r.sizeBytes);
  // Creates in flight have no replica specs yet, only plans in their intent.
  for (const v of await listRecords<StoredVolume, VolumeOp>(ctx.store, kindPrefixOf(ResourceKind.Volume))) {
    const op = v.record.pending?.op;
    if (op?.type === 'create') for (const p of op.replicas) add(p.poolId, op.spec.sizeBytes);
  }
  const pools: FleetPool[] = fleet.pools.map((p) => ({
    ...p,
    committedBytes: Math.max(p.committedBytes, committed.get(p.id) ?? 0),
    replicaCount: Math.max(p.replicaCount, count.get(p.id) ?? 0),
  }));
  return { nodes: fleet.nodes, pools };
}

/**
 * Where the client would like the first replica (CSI accessibility requirements: the pod's
 * node first, then its zone). Preferences only: when none can take it, placement goes on
 * as if none were given. `zone` is a requirement, kept in the volume spec.
 */
export interface PlacementHints {
  readonly preferredNodes?: readonly string[];
  readonly preferredZones?: readonly string[];
  readonly zone?: string;
}

/** The fleet a zone-local volume may use: that zone's nodes and their pools. */
function withinZone(fleet: Fleet, zone: string | undefined): Fleet {
  if (zone === undefined) return fleet;
  const nodes = fleet.nodes.filter((n) => n.zone === zone);
  const ids = new Set(nodes.map((n) => n.id));
  return { nodes, pools: fleet.pools.filter((p) => ids.has(p.nodeId)) };
}

function onNodes(fleet: Fleet, keep: (n: FleetNode) => boolean): Fleet {
  const nodes = fleet.nodes.filter(keep);
  const ids = new Set(nodes.map((n) => n.id));
  return { nodes, pools: fleet.pools.filter((p) => ids.has(p.nodeId)) };
}

/** Choose pools for `count` new replicas of the volume; PLACEMENT_FAILED explains a refusal. */
export async function planReplicas(
  ctx: ServiceContext, volume: StoredVolume, count: number,
  keep: { existingPools?: readonly string[]; avoidPools?: readonly string[]; prefer?: PlacementHints } = {},
): Promise<ReplicaPlan[]> {
  const fleet = withinZone(await placementFleet(ctx), volume.zone);
  const request = (n: number, existingPools: readonly string[] | undefined): PlacementRequest => ({
    replicas: n,
    sizeBytes: volume.sizeBytes,
    thin: volume.thin,
    media: volume.media,
    requiredTags: volume.requiredTags,
    excludedTags: volume.excludedTags,
    storageGroup: volume.storageGroup,
    spread: { domain: volume.spread.domain, strict: volume.spread.strict },
    existingPools,
    avoidPools: keep.avoidPools,
  });
  const nodeOf = new Map(fleet.pools.map((p) => [p.id, p.nodeId]));
  const plans = (pools: readonly string[]): ReplicaPlan[] => pools.map((poolId) => ({ id: newReplicaId(), poolId, nodeId: nodeOf.get(poolId) as string }));
  // The first replica where the client prefers (the pod's node, else its zone), the rest around it as usual.
  if (count > 0 && (keep.existingPools ?? []).length === 0) {
    const nearby = [
      ...(keep.prefer?.preferredNodes ?? []).map((id) => onNodes(fleet, (n) => n.id === id)),
      ...(keep.prefer?.preferredZones ?? []).map((z) => onNodes(fleet, (n) => n.zone === z)),
    ];
    for (const near of nearby) {
      const first = tryPlace(near, request(1, undefined));
      if (first === undefined) continue;
      const rest = count > 1 ? tryPlace(fleet, request(count - 1, first)) : [];
      if (rest !== undefined) return plans([...first, ...rest]);
    }
  }
  try {
    return plans(placeReplicas(fleet, request(count, keep.existingPools)).pools);
  } catch (err) {
    throw countRefusal(err, volume, ctx.now());
  }
}

/** A placement, or undefined when this fleet cannot take it (the caller tries elsewhere). */
function tryPlace(fleet: Fleet, request: PlacementRequest): readonly string[] | undefined {
  if (fleet.pools.length === 0) return undefined;
  try {
    return placeReplicas(fleet, request).pools;
  } catch (err) {
    if (err instanceof PlacementError) return undefined;
    throw err;
  }
}

/**
 * A copied volume's plans: `seed` (where the engine copies the source) and the rest of
 * the replicas placed around it, blank — they await a full rebuild from the seed, which
 * the nexus does under live I/O when the volume is published.
 */
export async function withBlankReplicas(ctx: ServiceContext, volume: StoredVolume, seed: ReplicaPlan): Promise<ReplicaPlan[]> {
  return await seededPlans(ctx, volume, [seed]);
}

/**
 * Plans seeded in several pools (one per source copy, on distinct nodes, up to the replica
 * count: each engine copies within its pool), the rest placed around them, blank.
 */
export async function seededPlans(ctx: ServiceContext, volume: StoredVolume, seeds: readonly ReplicaPlan[]): Promise<ReplicaPlan[]> {
  const picked: ReplicaPlan[] = [];
  for (const s of seeds) if (picked.length < Math.max(1, volume.replicas) && !picked.some((p) => p.nodeId === s.nodeId)) picked.push(s);
  if (picked.length >= volume.replicas) return picked;
  const rest = await planReplicas(ctx, volume, volume.replicas - picked.length, { existingPools: picked.map((p) => p.poolId) });
  return [...picked, ...rest.map((p) => ({ ...p, blank: true as const }))];
}
