import type { SpecLifecycle } from './spec_common.ts';

/** One copy of a volume's data in one pool. */
export interface ReplicaSpec {
  readonly id: string;
  readonly volumeId: string;
  readonly poolId: string;
  readonly nodeId: string;
  readonly sizeBytes: number;
  readonly thin: boolean;
  readonly lifecycle: SpecLifecycle;
}

/** A replica as its nexus (or, without a nexus, its pool) reports it. */
export const ReplicaStatus = {
  /** No report yet. */
  Unknown: 'unknown',
  /** In sync and taking writes. */
  Online: 'online',
  /** Taking writes while a rebuild copies what it missed; not read from. */
  Rebuilding: 'rebuilding',
  /** Retired by the nexus after an I/O error; to be rebuilt or replaced. */
  Faulted: 'faulted',
  /** Its node or pool is gone; replaced after the node-loss grace period. */
  Missing: 'missing',
} as const;
export type ReplicaStatus = (typeof ReplicaStatus)[keyof typeof ReplicaStatus];

export interface ReplicaState {
  readonly id: string;
  readonly status: ReplicaStatus;
  /** Rebuild progress, 0–1, while Rebuilding. */
  readonly rebuildProgress?: number;
}
