import type { SpecLifecycle } from './spec_common.ts';

/**
 * A crash-consistent snapshot of several volumes: one barrier held every volume's writes
 * while each member was cut. Members are ordinary snapshots (SnapshotSpec.groupId set),
 * so each restores like any other.
 */
export interface GroupSnapshotSpec {
  readonly id: string;
  /** The CSI name, for idempotency. */
  readonly name: string;
  readonly volumeIds: readonly string[];
  /** Member snapshot ids, in volumeIds order. */
  readonly snapshotIds: readonly string[];
  readonly createdAtMs: number;
  readonly lifecycle: SpecLifecycle;
}
