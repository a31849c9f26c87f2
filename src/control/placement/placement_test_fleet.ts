import { MediaType, PoolHealth, type FleetNode, type FleetPool } from './placement_types.ts';

/** Small hand-built fleets for the placement tests. */
export const GiB = 1024 ** 3;

export function node(id: string, zone: string, storageGroup = 'rack-a', online = true): FleetNode {
  return { id, zone, storageGroup, online };
}

export function pool(id: string, nodeId: string, over: Partial<FleetPool> = {}): FleetPool {
  return {
    id,
    nodeId,
    media: MediaType.Ssd,
    tags: [],
    health: PoolHealth.Online,
    capacityBytes: 100 * GiB,
    committedBytes: 0,
    usedBytes: 0,
    replicaCount: 0,
    overcommitRatio: 1,
    ...over,
  };
}
