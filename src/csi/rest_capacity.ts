/**
 * GetCapacity over the control plane's pools and nodes (pure): "can a volume of this
 * class be created for a pod in this topology segment, and how large?". A volume is
 * reachable from every node, so for most classes the answer is the same everywhere —
 * the whole fleet's — and a 2-replica class schedules wherever two nodes have room. Only
 * a zone-local class is confined to the segment's zone (topology.ts).
 */
import type { Capacity, TopologySegment } from './backend.ts';
import type { VolumeParameters } from './parameters.ts';
import { poolFreeBytes, poolMatches, type RestNode, type RestPool } from './rest_views.ts';
import { capacityZone } from './topology.ts';

export interface CapacityFleet {
  pools: readonly RestPool[];
  nodes: readonly RestNode[];
  /** Zones of nodes without an engine (their node plugins' registrations). */
  attachZones?: ReadonlyMap<string, string>;
}

export function capacityFor(fleet: CapacityFleet, p: VolumeParameters, segment: TopologySegment | undefined): Capacity {
  const nodeById = new Map(fleet.nodes.map((n) => [n.id, n]));
  const zoneOfNode = (id: string): string | undefined => nodeById.get(id)?.zone || fleet.attachZones?.get(id);
  const zone = capacityZone(p, segment, zoneOfNode);
  const online = (n: RestNode | undefined): n is RestNode => n !== undefined && n.state?.status !== 'offline';
  const free = fleet.pools.flatMap((pool) => {
    const node = nodeById.get(pool.nodeId);
    if (!online(node) || !poolMatches(pool, node, p, zone)) return [];
    // Replicas never share a node; with spreadStrict they never share the spread domain either.
    const domain = p.spreadStrict && p.locality !== 'zone' ? `zone:${node.zone}` : `node:${node.id}`;
    return [{ domain, bytes: poolFreeBytes(pool, p.thin) }];
  });
  // The r-th roomiest domain's best pool bounds one volume of r replicas.
  const best = new Map<string, number>();
  for (const f of free) best.set(f.domain, Math.max(best.get(f.domain) ?? 0, f.bytes));
  const ranked = [...best.values()].sort((a, b) => b - a);
  const bound = ranked.length >= p.replicas ? ranked[p.replicas - 1] : 0;
  return {
    availableBytes: free.reduce((a, f) => a + f.bytes, 0),
    maximumVolumeSize: Math.min(bound, p.maxVolumeSize ?? Number.MAX_SAFE_INTEGER),
    minimumVolumeSize: p.minVolumeSize,
  };
}
