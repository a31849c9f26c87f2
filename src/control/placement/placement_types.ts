/**
 * The fleet as placement sees it: plain values, no I/O. The registry builds these from
 * what engines report; tests and the benchmark build them by hand.
 */

/** Media a pool sits on; StorageClass `type`. */
export const MediaType = {
  /** Rotating disks: capacity tier. */
  Hdd: 'hdd',
  /** Flash (SATA/SAS SSD or NVMe): performance tier. */
  Ssd: 'ssd',
} as const;
export type MediaType = (typeof MediaType)[keyof typeof MediaType];

/** Health of a pool as last reported by its engine. */
export const PoolHealth = {
  /** Imported and serving I/O. */
  Online: 'online',
  /** Serving I/O but with errors seen; placement avoids it. */
  Degraded: 'degraded',
  /** Not usable (import failed, device missing). */
  Faulted: 'faulted',
} as const;
export type PoolHealth = (typeof PoolHealth)[keyof typeof PoolHealth];

/**
 * Failure-domain levels, coarsest first. Each level nests in the previous one: a
 * storage group (rack) lives in one zone and a node in one storage group, so replicas in
 * distinct zones are also in distinct storage groups and on distinct nodes.
 */
export const TopologyKey = {
  Zone: 'zone',
  StorageGroup: 'storageGroup',
  Node: 'node',
} as const;
export type TopologyKey = (typeof TopologyKey)[keyof typeof TopologyKey];
export const TOPOLOGY_LEVELS: readonly TopologyKey[] = [TopologyKey.Zone, TopologyKey.StorageGroup, TopologyKey.Node];

export interface FleetNode {
  readonly id: string;
  /** Topology labels; a storage group name only has to be unique within its zone. */
  readonly zone: string;
  readonly storageGroup: string;
  /** False once heartbeats stop; the registry decides when. */
  readonly online: boolean;
}

export interface FleetPool {
  readonly id: string;
  readonly nodeId: string;
  readonly media: MediaType;
  readonly tags: readonly string[];
  readonly health: PoolHealth;
  readonly capacityBytes: number;
  /** Sum of the provisioned sizes of every replica on the pool (thick and thin). */
  readonly committedBytes: number;
  /** Bytes physically allocated (thin replicas allocate on write). */
  readonly usedBytes: number;
  /** Replicas on the pool, for balancing. */
  readonly replicaCount: number;
  /**
   * How far thin replicas may over-commit the pool: committed ≤ capacity × ratio.
   * 1 means no over-commit. Thick replicas never over-commit.
   */
  readonly overcommitRatio: number;
}

export interface Fleet {
  readonly nodes: readonly FleetNode[];
  readonly pools: readonly FleetPool[];
}

export interface SpreadPolicy {
  /** The failure domain replicas must (strict) or should (soft) not share. */
  readonly domain: TopologyKey;
  /** Strict: refuse to place rather than put two replicas in one `domain`. */
  readonly strict: boolean;
}

export interface PlacementRequest {
  /** Replicas to place now, 1–5. */
  readonly replicas: number;
  readonly sizeBytes: number;
  readonly thin: boolean;
  readonly media?: MediaType;
  /** Every tag must be on the pool. */
  readonly requiredTags?: readonly string[];
  /** No tag may be on the pool. */
  readonly excludedTags?: readonly string[];
  /** Only pools whose node is in this storage group (StorageClass `storageGroup`). */
  readonly storageGroup?: string;
  /** Defaults to soft spread across zones; replicas never share a node either way. */
  readonly spread?: SpreadPolicy;
  /** Pools of the volume's surviving replicas: excluded, and counted for spread. */
  readonly existingPools?: readonly string[];
  /** Pools to avoid without counting them for spread (the pool of a failed replica). */
  readonly avoidPools?: readonly string[];
}

/** Weights of the additive rankers; `topology_spread` is applied before them. */
export interface RankWeights {
  /** Weight of committed/capacity. */
  readonly leastUsed: number;
  /** Weight of replicaCount / replicaScale. */
  readonly replicaBalance: number;
  /** Replica count that weighs as much as a full pool. */
  readonly replicaScale: number;
}

export const DEFAULT_RANK_WEIGHTS: RankWeights = { leastUsed: 1, replicaBalance: 0.25, replicaScale: 100 };

export const DEFAULT_SPREAD: SpreadPolicy = { domain: TopologyKey.Zone, strict: false };

export const MAX_REPLICAS = 5;

export interface PlacementResult {
  /** Chosen pool ids, best first. */
  readonly pools: readonly string[];
}
