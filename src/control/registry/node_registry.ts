import { NodeStatus, type NodeState } from '../model/node_spec.ts';
import { PoolStatus } from '../model/pool_spec.ts';
import { PoolHealth, type Fleet, type FleetNode, type FleetPool } from '../placement/placement_types.ts';
import type { Heartbeat } from './registry_heartbeat.ts';

/**
 * What the control plane knows of its nodes: the last heartbeat of each and when it
 * came. Pure: time is passed in, so tests and reconcilers decide when `tick` runs.
 *
 * Node loss is two-staged. A node that misses its heartbeat deadline goes Offline at
 * once — placement stops using it. Its replicas are replaced only once it has been
 * offline for the grace period, so a reboot or a short partition does not start full
 * rebuilds; a node that returns within the grace period resyncs what changed instead.
 */
export interface RegistryTiming {
  /** Offline after this long without a heartbeat (default 15 s: three missed 5 s beats). */
  readonly heartbeatDeadlineMs: number;
  /** Lost (replicas replaced) after this long offline (default 5 minutes). */
  readonly nodeLossGraceMs: number;
}

export const DEFAULT_TIMING: RegistryTiming = { heartbeatDeadlineMs: 15_000, nodeLossGraceMs: 300_000 };

export interface NodeTransition {
  readonly nodeId: string;
  readonly from: NodeStatus;
  readonly to: NodeStatus;
}

interface Tracked {
  heartbeat: Heartbeat | undefined;
  status: NodeStatus;
  lastHeartbeatMs: number;
  /** When the node was (or will be) declared offline. */
  offlineSinceMs: number;
  cordoned: boolean;
}

export class NodeRegistry {
  readonly #timing: RegistryTiming;
  readonly #startedMs: number;
  readonly #nodes = new Map<string, Tracked>();
  readonly #overcommit = new Map<string, number>();
  readonly #defaultOvercommit: number;

  constructor(nowMs: number, options: { timing?: RegistryTiming; defaultOvercommitRatio?: number } = {}) {
    this.#timing = options.timing ?? DEFAULT_TIMING;
    this.#startedMs = nowMs;
    this.#defaultOvercommit = options.defaultOvercommitRatio ?? 1;
  }

  /**
   * A node known from the store but not heard from since this control plane started.
   * It stays Unknown for one deadline (engines get a chance to check in) before it
   * goes Offline, and its grace period starts only then.
   */
  restore(nodeId: string, cordoned = false): void {
    if (this.#nodes.has(nodeId)) return;
    this.#nodes.set(nodeId, {
      heartbeat: undefined, status: NodeStatus.Unknown, lastHeartbeatMs: 0,
      offlineSinceMs: this.#startedMs + this.#timing.heartbeatDeadlineMs, cordoned,
    });
  }

  /** Record a heartbeat (already parsed); returns the transition it caused, if any. */
  heartbeat(hb: Heartbeat, nowMs: number): NodeTransition | undefined {
    const t = this.#nodes.get(hb.nodeId);
    if (t === undefined) {
      this.#nodes.set(hb.nodeId, { heartbeat: hb, status: NodeStatus.Online, lastHeartbeatMs: nowMs, offlineSinceMs: 0, cordoned: false });
      return { nodeId: hb.nodeId, from: NodeStatus.Unknown, to: NodeStatus.Online };
    }
    const from = t.status;
    t.heartbeat = hb;
    t.lastHeartbeatMs = Math.max(t.lastHeartbeatMs, nowMs);
    t.status = NodeStatus.Online;
    return from === NodeStatus.Online ? undefined : { nodeId: hb.nodeId, from, to: NodeStatus.Online };
  }

  /** Apply the heartbeat deadline; returns the nodes that just went offline. */
  tick(nowMs: number): NodeTransition[] {
    const out: NodeTransition[] = [];
    for (const [nodeId, t] of this.#nodes) {
      const deadline = t.status === NodeStatus.Unknown ? t.offlineSinceMs : t.lastHeartbeatMs + this.#timing.heartbeatDeadlineMs;
      if (t.status !== NodeStatus.Offline && nowMs >= deadline) {
        out.push({ nodeId, from: t.status, to: NodeStatus.Offline });
        t.status = NodeStatus.Offline;
        t.offlineSinceMs = deadline;
      }
    }
    return out;
  }

  /** Nodes offline for longer than the grace period: their replicas are to be replaced. */
  lost(nowMs: number): string[] {
    const out: string[] = [];
    for (const [nodeId, t] of this.#nodes) {
      if (t.status === NodeStatus.Offline && nowMs - t.offlineSinceMs >= this.#timing.nodeLossGraceMs) out.push(nodeId);
    }
    return out;
  }

  state(nodeId: string): NodeState | undefined {
    const t = this.#nodes.get(nodeId);
    if (t === undefined) return undefined;
    return { id: nodeId, status: t.status, lastHeartbeatMs: t.lastHeartbeatMs, engineVersion: t.heartbeat?.engineVersion ?? '' };
  }

  /** A cordoned node keeps its replicas but placement gives it no new ones. */
  cordon(nodeId: string, cordoned: boolean): void {
    const t = this.#nodes.get(nodeId);
    if (t !== undefined) t.cordoned = cordoned;
  }

  setOvercommitRatio(poolId: string, ratio: number): void {
    this.#overcommit.set(poolId, ratio);
  }

  forget(nodeId: string): void {
    this.#nodes.delete(nodeId);
  }

  /** The fleet as placement sees it: only online, uncordoned nodes take replicas. */
  fleet(): Fleet {
    const nodes: FleetNode[] = [];
    const pools: FleetPool[] = [];
    for (const [id, t] of this.#nodes) {
      const hb = t.heartbeat;
      if (hb === undefined) continue;
      nodes.push({ id, zone: hb.zone, storageGroup: hb.storageGroup, online: t.status === NodeStatus.Online && !t.cordoned });
      for (const p of hb.pools) {
        pools.push({
          id: p.id, nodeId: id, media: p.media, tags: p.tags, health: health(p.status),
          capacityBytes: p.capacityBytes, committedBytes: p.committedBytes, usedBytes: p.usedBytes,
          replicaCount: p.replicaCount, overcommitRatio: this.#overcommit.get(p.id) ?? this.#defaultOvercommit,
        });
      }
    }
    return { nodes, pools };
  }
}

function health(status: PoolStatus): PoolHealth {
  if (status === PoolStatus.Online) return PoolHealth.Online;
  if (status === PoolStatus.Degraded) return PoolHealth.Degraded;
  return PoolHealth.Faulted;
}
