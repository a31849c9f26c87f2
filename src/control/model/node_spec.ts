import type { SpecLifecycle } from './spec_common.ts';

/** A storage node: where an engine runs. Registered by the engine's first heartbeat. */
export interface NodeSpec {
  readonly id: string;
  /** The engine's API address (host:port), reachable from the control plane. */
  readonly endpoint: string;
  /** Topology the placement filters read. */
  readonly zone: string;
  readonly storageGroup: string;
  /** Other labels from the Kubernetes node, kept for operators and future filters. */
  readonly labels: Readonly<Record<string, string>>;
  /** A cordoned node keeps its replicas but gets no new ones. */
  readonly cordoned: boolean;
  readonly lifecycle: SpecLifecycle;
}

/** Liveness of a node as the registry sees it. */
export const NodeStatus = {
  /** Not heard from since this control plane started; nothing is decided on it yet. */
  Unknown: 'unknown',
  /** Heartbeats arrive within the heartbeat deadline. */
  Online: 'online',
  /**
   * Heartbeats stopped. Its replicas are replaced only after the node-loss grace period,
   * so a reboot does not trigger a full rebuild.
   */
  Offline: 'offline',
} as const;
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus];

export interface NodeState {
  readonly id: string;
  readonly status: NodeStatus;
  /** Milliseconds since the epoch of the last heartbeat; 0 if none. */
  readonly lastHeartbeatMs: number;
  readonly engineVersion: string;
}
