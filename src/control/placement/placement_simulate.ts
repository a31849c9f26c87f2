import { MediaType, PoolHealth, type Fleet, type FleetNode, type FleetPool } from './placement_types.ts';

/** Shape of a simulated fleet for tests and the placement benchmark. */
export interface SimulatedFleetShape {
  readonly zones: number;
  readonly groupsPerZone: number;
  readonly nodes: number;
  readonly poolsPerNode: number;
  /** Fraction of pools that are SSDs. */
  readonly ssdFraction: number;
  readonly seed: number;
}

const GiB = 1024 ** 3;

/** A small deterministic PRNG (mulberry32) so simulated fleets repeat exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Nodes round-robin over zones and racks; drive sizes and fill levels vary. */
export function simulateFleet(shape: SimulatedFleetShape): Fleet {
  const rnd = seededRandom(shape.seed);
  const nodes: FleetNode[] = [];
  const pools: FleetPool[] = [];
  for (let n = 0; n < shape.nodes; n++) {
    const zone = `zone-${n % shape.zones}`;
    const group = `rack-${Math.floor(n / shape.zones) % shape.groupsPerZone}`;
    const id = `node-${n}`;
    nodes.push({ id, zone, storageGroup: group, online: true });
    for (let p = 0; p < shape.poolsPerNode; p++) {
      const ssd = rnd() < shape.ssdFraction;
      const capacityBytes = (ssd ? 2 + Math.floor(rnd() * 6) : 4 + Math.floor(rnd() * 16)) * 1024 * GiB;
      const committedBytes = Math.floor(rnd() * 0.5 * capacityBytes);
      pools.push({
        id: `${id}-pool-${p}`,
        nodeId: id,
        media: ssd ? MediaType.Ssd : MediaType.Hdd,
        tags: rnd() < 0.1 ? ['encrypted-at-rest'] : [],
        health: PoolHealth.Online,
        capacityBytes,
        committedBytes,
        usedBytes: committedBytes,
        replicaCount: Math.floor(committedBytes / (100 * GiB)),
        overcommitRatio: 2,
      });
    }
  }
  return { nodes, pools };
}
