import { DEFAULT_FILTERS, filterContext, firstRejecting, type PoolFilter } from './placement_filters.ts';
import { explainFailure, type ExplainEntry } from './placement_explain.ts';
import { better, rankKey } from './placement_rankers.ts';
import { SpreadTracker, domainsOf, type Domains } from './placement_spread.ts';
import { validateRequest } from './placement_validate.ts';
import {
  DEFAULT_RANK_WEIGHTS, DEFAULT_SPREAD,
  type Fleet, type PlacementRequest, type PlacementResult, type RankWeights,
} from './placement_types.ts';

/**
 * The placement rule written as plainly as possible: filter every pool, then pick
 * replicas one at a time by (spread penalty, rank key, id). O(pools × replicas) per
 * volume. PlacementIndex must choose exactly what this chooses; tests hold it to that.
 */
export function placeByScan(
  fleet: Fleet, request: PlacementRequest,
  options: { weights?: RankWeights; filters?: readonly PoolFilter[] } = {},
): PlacementResult {
  validateRequest(request);
  const weights = options.weights ?? DEFAULT_RANK_WEIGHTS;
  const filters = options.filters ?? DEFAULT_FILTERS;
  const ctx = filterContext(request);
  const nodes = new Map(fleet.nodes.map((n) => [n.id, n]));
  const entries: ExplainEntry[] = fleet.pools.map((pool) => {
    const node = nodes.get(pool.nodeId);
    return { pool, node, domains: node === undefined ? undefined : domainsOf(node) };
  });
  const spread = new SpreadTracker(request.spread ?? DEFAULT_SPREAD);
  const existing: Domains[] = [];
  for (const id of request.existingPools ?? []) {
    const d = entries.find((e) => e.pool.id === id)?.domains;
    if (d !== undefined) { existing.push(d); spread.add(d); }
  }
  const candidates = entries.filter((e) => firstRejecting(filters, e.pool, e.node, ctx) < 0);
  const chosen: string[] = [];
  for (let r = 0; r < request.replicas; r++) {
    let best: { e: ExplainEntry; penalty: number; key: number } | undefined;
    for (const e of candidates) {
      const d = e.domains as Domains;
      if (chosen.includes(e.pool.id) || spread.forbids(d)) continue;
      const penalty = spread.penalty(d);
      const key = rankKey(e.pool, weights);
      if (best === undefined || better(penalty, key, e.pool.id, best.penalty, best.key, best.e.pool.id)) {
        best = { e, penalty, key };
      }
    }
    if (best === undefined) throw explainFailure(entries, filters, ctx, existing);
    chosen.push(best.e.pool.id);
    spread.add(best.e.domains as Domains);
  }
  return { pools: chosen };
}
