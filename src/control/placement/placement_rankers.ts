import type { FleetPool, RankWeights } from './placement_types.ts';

/**
 * Rankers order the pools that passed every filter; lower scores win. The additive
 * rankers below depend only on the pool, so the index can keep pools sorted by their
 * sum and re-sort one pool when its usage changes. `topology_spread` (placement_spread.ts)
 * depends on the replicas chosen so far and is compared first.
 */

/** `least_used`: fraction of the pool already promised to replicas. */
export function leastUsedScore(pool: FleetPool): number {
  return pool.capacityBytes > 0 ? pool.committedBytes / pool.capacityBytes : Number.POSITIVE_INFINITY;
}

/** `replica_balance`: spreads replica count (and so rebuild and I/O load) across pools. */
export function replicaBalanceScore(pool: FleetPool, weights: RankWeights): number {
  return pool.replicaCount / weights.replicaScale;
}

/** The weighted sum of the additive rankers. */
export function rankKey(pool: FleetPool, weights: RankWeights): number {
  return weights.leastUsed * leastUsedScore(pool) + weights.replicaBalance * replicaBalanceScore(pool, weights);
}

/** Total order of candidates: spread penalty, then rank key, then id so results are stable. */
export function better(
  penaltyA: number, keyA: number, idA: string, penaltyB: number, keyB: number, idB: string,
): boolean {
  if (penaltyA !== penaltyB) return penaltyA < penaltyB;
  if (keyA !== keyB) return keyA < keyB;
  return idA < idB;
}
