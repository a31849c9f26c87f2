/** Placement: which pools get a volume's replicas. Pure: no I/O, no timers. */
export { PlacementIndex, placeReplicas, type PlacementIndexOptions } from './placement_index.ts';
export { placeByScan } from './placement_scan.ts';
export { PlacementError, PlacementRequestError, type PlacementFailure } from './placement_error.ts';
export { DEFAULT_FILTERS, hasRoom, type PoolFilter, type FilterContext } from './placement_filters.ts';
export { rankKey, leastUsedScore, replicaBalanceScore } from './placement_rankers.ts';
export { formatBytes } from './placement_explain.ts';
export * from './placement_types.ts';
