import type { SpecLifecycle } from './spec_common.ts';

/** A point-in-time copy of a volume, taken on each of its replicas. */
export interface SnapshotSpec {
  readonly id: string;
  /** The CSI name, for idempotency. */
  readonly name: string;
  readonly volumeId: string;
  readonly sizeBytes: number;
  /** Milliseconds since the epoch when the snapshot was cut. */
  readonly createdAtMs: number;
  /** Per-replica snapshots; any one of them is enough to restore from. */
  readonly replicaSnapshots: readonly { readonly replicaId: string; readonly poolId: string }[];
  /** The group snapshot it was cut with (GroupSnapshotSpec), if any. */
  readonly groupId?: string;
  readonly lifecycle: SpecLifecycle;
}

export const SnapshotStatus = {
  /** Being cut on the replicas. */
  Pending: 'pending',
  /** Cut on at least one replica; usable as a clone source (CSI ready_to_use). */
  Ready: 'ready',
  /** Every replica's copy is gone or failed. */
  Failed: 'failed',
} as const;
export type SnapshotStatus = (typeof SnapshotStatus)[keyof typeof SnapshotStatus];
