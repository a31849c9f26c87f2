import { PlacementError } from '../placement/placement_error.ts';

/**
 * Placement refusals the API answered with PLACEMENT_FAILED, and per filter the pools it
 * was first to rule out in them, for /metrics. Process-wide plain counters: they only grow.
 */
export const placementRefusals = {
  total: 0,
  poolsRuledOutByFilter: new Map<string, number>(),
};

/** Counts `err` when it is a placement refusal; returns it, so callers can `throw countRefusal(err)`. */
export function countRefusal(err: unknown): unknown {
  if (err instanceof PlacementError) {
    placementRefusals.total++;
    for (const [filter, n] of Object.entries(err.failure.ruledOut)) {
      placementRefusals.poolsRuledOutByFilter.set(filter, (placementRefusals.poolsRuledOutByFilter.get(filter) ?? 0) + n);
    }
  }
  return err;
}
