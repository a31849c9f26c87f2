import { TopologyKey, type FleetNode, type SpreadPolicy } from './placement_types.ts';

/**
 * `replica_anti_affinity` and `topology_spread`. Domains are qualified by their parents
 * (a rack name is only unique within its zone), so sharing a finer domain implies
 * sharing every coarser one.
 */
export interface Domains {
  readonly zone: string;
  readonly group: string;
  readonly node: string;
}

const SEP = '\u001f';

export function domainsOf(node: FleetNode): Domains {
  const group = node.zone + SEP + node.storageGroup;
  return { zone: node.zone, group, node: group + SEP + node.id };
}

/** Spread penalty values: how close a candidate sits to replicas already chosen. */
export const SpreadPenalty = {
  /** In a zone no chosen replica is in. */
  NewZone: 0,
  /** Same zone as a chosen replica, different storage group. */
  NewGroup: 1,
  /** Same storage group, different node. */
  NewNode: 2,
} as const;

/** Tracks the domains of the volume's replicas while they are being chosen. */
export class SpreadTracker {
  readonly policy: SpreadPolicy;
  readonly #zones = new Set<string>();
  readonly #groups = new Set<string>();
  readonly #nodes = new Set<string>();

  constructor(policy: SpreadPolicy) {
    this.policy = policy;
  }

  /** Zones and (qualified) groups holding a chosen replica. */
  get zones(): ReadonlySet<string> {
    return this.#zones;
  }

  get groups(): ReadonlySet<string> {
    return this.#groups;
  }

  add(d: Domains): void {
    this.#zones.add(d.zone);
    this.#groups.add(d.group);
    this.#nodes.add(d.node);
  }

  /** Replicas never share a node; strict spread also forbids sharing `policy.domain`. */
  forbids(d: Domains): boolean {
    if (this.#nodes.has(d.node)) return true;
    if (!this.policy.strict) return false;
    if (this.policy.domain === TopologyKey.Zone) return this.#zones.has(d.zone);
    if (this.policy.domain === TopologyKey.StorageGroup) return this.#groups.has(d.group);
    return false;
  }

  /** `topology_spread` score; the same for every pool of one storage group. */
  penalty(d: Domains): number {
    if (!this.#zones.has(d.zone)) return SpreadPenalty.NewZone;
    if (!this.#groups.has(d.group)) return SpreadPenalty.NewGroup;
    return SpreadPenalty.NewNode;
  }
}

/** The domain value strict spread keeps distinct (node for soft spread). */
export function strictDomain(d: Domains, policy: SpreadPolicy): string {
  if (!policy.strict) return d.node;
  if (policy.domain === TopologyKey.Zone) return d.zone;
  if (policy.domain === TopologyKey.StorageGroup) return d.group;
  return d.node;
}
