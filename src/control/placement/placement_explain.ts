import { firstRejecting, type FilterContext, type PoolFilter } from './placement_filters.ts';
import { PlacementError } from './placement_error.ts';
import { SpreadTracker, strictDomain, type Domains } from './placement_spread.ts';
import { DEFAULT_SPREAD, TopologyKey, type FleetNode, type FleetPool } from './placement_types.ts';

/** A pool with its node and domains, as the explainer walks them. */
export interface ExplainEntry {
  readonly pool: FleetPool;
  readonly node: FleetNode | undefined;
  readonly domains: Domains | undefined;
}

const PLURAL: Record<TopologyKey, [string, string]> = {
  zone: ['zone', 'zones'],
  storageGroup: ['storage group', 'storage groups'],
  node: ['node', 'nodes'],
};

/**
 * Builds the PlacementError for a request that could not be placed. It walks every pool
 * once (O(pools)), which is fine: it runs only on failure.
 */
export function explainFailure(
  entries: Iterable<ExplainEntry>, chain: readonly PoolFilter[], ctx: FilterContext,
  existing: readonly Domains[],
): PlacementError {
  const request = ctx.request;
  const spread = new SpreadTracker(request.spread ?? DEFAULT_SPREAD);
  for (const d of existing) spread.add(d);
  const counts = new Array<number>(chain.length).fill(0);
  const domains = new Set<string>();
  let pools = 0;
  let passed = 0;
  for (const e of entries) {
    pools++;
    const rejectedBy = firstRejecting(chain, e.pool, e.node, ctx);
    if (rejectedBy >= 0) {
      counts[rejectedBy]++;
      continue;
    }
    passed++;
    if (e.domains !== undefined && !spread.forbids(e.domains)) domains.add(strictDomain(e.domains, spread.policy));
  }
  const ruledOut: Record<string, number> = {};
  chain.forEach((f, i) => { if (counts[i] > 0) ruledOut[f.name] = counts[i]; });
  const domain = spread.policy.strict ? spread.policy.domain : TopologyKey.Node;
  const failure = { needed: request.replicas, domain, available: domains.size, pools, ruledOut };
  const size = formatBytes(request.sizeBytes);
  const why = describeRuledOut(ruledOut);
  if (passed === 0) {
    return new PlacementError(
      `no pool can take a ${size}${request.thin ? ' thin' : ''} replica: all ${pools} pools ruled out${why}`, failure);
  }
  const [one, many] = PLURAL[domain];
  const existingCount = request.existingPools?.length ?? 0;
  const need = existingCount > 0
    ? `need ${request.replicas} more ${replicaWord(request.replicas)} in distinct ${many} apart from the ${existingCount} existing`
    : `need ${request.replicas} ${replicaWord(request.replicas)} in distinct ${many}`;
  const have = domains.size === 1 ? `1 ${one} has` : `${domains.size} ${many} have`;
  return new PlacementError(`${need}; only ${have} a pool with ${size} free${why}`, failure);
}

function replicaWord(n: number): string {
  return n === 1 ? 'replica' : 'replicas';
}

function describeRuledOut(ruledOut: Record<string, number>): string {
  const parts = Object.entries(ruledOut).map(([name, n], i) =>
    i === 0 ? `${name} ruled out ${n} ${n === 1 ? 'pool' : 'pools'}` : `${name} ruled out ${n}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
  const text = Number.isInteger(v) ? String(v) : v.toFixed(1);
  return `${text} ${UNITS[u]}`;
}
