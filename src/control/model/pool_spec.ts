import type { SpecLifecycle } from './spec_common.ts';

/** A pool: one node's disk (or file) turned into replica space. */
export interface PoolSpec {
  readonly id: string;
  readonly nodeId: string;
  /** Device paths or files on the node, as the engine opens them. */
  readonly disks: readonly string[];
  readonly media: 'hdd' | 'ssd';
  readonly tags: readonly string[];
  /** Thin over-commit ratio (committed ≤ capacity × ratio); 1 forbids over-commit. */
  readonly overcommitRatio: number;
  readonly lifecycle: SpecLifecycle;
}

/** A pool as its engine reports it. */
export const PoolStatus = {
  /** No report since the control plane started, or the node is offline. */
  Unknown: 'unknown',
  /** Imported and serving. */
  Online: 'online',
  /** Serving, with media errors seen; no new replicas go here. */
  Degraded: 'degraded',
  /** Not serving (import failed, disk gone). Its replicas count as missing. */
  Faulted: 'faulted',
} as const;
export type PoolStatus = (typeof PoolStatus)[keyof typeof PoolStatus];

export interface PoolState {
  readonly id: string;
  readonly status: PoolStatus;
  readonly capacityBytes: number;
  /** Bytes physically allocated. */
  readonly usedBytes: number;
  /** Provisioned size of all replicas on the pool. */
  readonly committedBytes: number;
}
