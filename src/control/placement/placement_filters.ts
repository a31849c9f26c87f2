import { PoolHealth, type FleetNode, type FleetPool, type PlacementRequest } from './placement_types.ts';

/**
 * A request with its lists turned into sets once, so each filter is O(1) (or O(tags))
 * per pool.
 */
export interface FilterContext {
  readonly request: PlacementRequest;
  readonly requiredTags: readonly string[];
  readonly excludedTags: ReadonlySet<string>;
  /** Pools that already hold a replica of the volume, plus pools to avoid. */
  readonly excludedPools: ReadonlySet<string>;
}

/** A named per-pool predicate; the chain's order decides which filter is blamed. */
export interface PoolFilter {
  readonly name: string;
  /**
   * The filter looks only at media, tags and the node's topology, which the index
   * groups pools by, so it can be decided once per group.
   */
  readonly static?: boolean;
  /** Whether the request uses this filter at all (unused filters are not reported). */
  active(ctx: FilterContext): boolean;
  accepts(pool: FleetPool, node: FleetNode | undefined, ctx: FilterContext): boolean;
}

export function filterContext(request: PlacementRequest): FilterContext {
  return {
    request,
    requiredTags: request.requiredTags ?? [],
    excludedTags: new Set(request.excludedTags ?? []),
    excludedPools: new Set([...(request.existingPools ?? []), ...(request.avoidPools ?? [])]),
  };
}

const always = (): boolean => true;

/** The pool's node is registered and heartbeating. */
export const onlineNodes: PoolFilter = {
  name: 'online_nodes',
  active: always,
  accepts: (_pool, node) => node !== undefined && node.online,
};

/** The pool itself reports healthy; a degraded pool gets no new replicas. */
export const healthyPools: PoolFilter = {
  name: 'healthy_pools',
  active: always,
  accepts: (pool) => pool.health === PoolHealth.Online,
};

export const mediaType: PoolFilter = {
  static: true,
  name: 'media_type',
  active: (ctx) => ctx.request.media !== undefined,
  accepts: (pool, _node, ctx) => ctx.request.media === undefined || pool.media === ctx.request.media,
};

export const storageGroup: PoolFilter = {
  static: true,
  name: 'storage_group',
  active: (ctx) => ctx.request.storageGroup !== undefined,
  accepts: (_pool, node, ctx) =>
    ctx.request.storageGroup === undefined || node?.storageGroup === ctx.request.storageGroup,
};

export const requiredTags: PoolFilter = {
  static: true,
  name: 'required_tags',
  active: (ctx) => ctx.requiredTags.length > 0,
  accepts: (pool, _node, ctx) => ctx.requiredTags.every((t) => pool.tags.includes(t)),
};

export const excludedTags: PoolFilter = {
  static: true,
  name: 'excluded_tags',
  active: (ctx) => ctx.excludedTags.size > 0,
  accepts: (pool, _node, ctx) => ctx.excludedTags.size === 0 || !pool.tags.some((t) => ctx.excludedTags.has(t)),
};

/** When replacing a replica: never reuse a pool the volume is on or is leaving. */
export const excludeExisting: PoolFilter = {
  name: 'exclude_existing',
  active: (ctx) => ctx.excludedPools.size > 0,
  accepts: (pool, _node, ctx) => !ctx.excludedPools.has(pool.id),
};

/**
 * Room for the replica. Thick replicas are fully backed, so they need the pool not to
 * be over-committed after them. Thin replicas may over-commit up to the pool's ratio,
 * but not onto a pool that is physically full.
 */
export const minFreeSpace: PoolFilter = {
  name: 'min_free_space',
  active: always,
  accepts: (pool, _node, ctx) => hasRoom(pool, ctx.request.sizeBytes, ctx.request.thin),
};

export function hasRoom(pool: FleetPool, sizeBytes: number, thin: boolean): boolean {
  if (thin) {
    return pool.committedBytes + sizeBytes <= pool.capacityBytes * pool.overcommitRatio &&
      pool.usedBytes < pool.capacityBytes;
  }
  return pool.committedBytes + sizeBytes <= pool.capacityBytes &&
    pool.usedBytes + sizeBytes <= pool.capacityBytes;
}

/** The default chain, cheapest and most selective first so errors blame the right one. */
export const DEFAULT_FILTERS: readonly PoolFilter[] = [
  onlineNodes,
  healthyPools,
  mediaType,
  storageGroup,
  requiredTags,
  excludedTags,
  excludeExisting,
  minFreeSpace,
];

/** Index of the first filter in `chain` that rejects the pool, or -1 if all accept. */
export function firstRejecting(
  chain: readonly PoolFilter[], pool: FleetPool, node: FleetNode | undefined, ctx: FilterContext,
): number {
  for (let i = 0; i < chain.length; i++) {
    if (!chain[i].accepts(pool, node, ctx)) return i;
  }
  return -1;
}
