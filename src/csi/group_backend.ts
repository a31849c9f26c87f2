/**
 * What the GroupController and SnapshotMetadata services need of the control plane:
 * group snapshots and changed-block pages. Kept apart from ControlPlaneClient so the
 * in-memory FakeControlPlane (which has neither) need not pretend.
 */
import type { Snapshot } from './backend.ts';

export interface GroupSnapshot {
  id: string;
  name: string;
  volumeIds: string[];
  snapshots: Snapshot[];
  createdAtMs: number;
}

export interface BlockPage {
  sizeBytes: number;
  blockSize: number;
  ranges: { offset: number; length: number }[];
  nextOffset: number | null;
}

export interface SnapshotGroupClient {
  /** Same name and volumes → the same group; other volumes → NameConflictError. VolumeNotFoundError for a missing source. */
  createGroupSnapshot(name: string, volumeIds: readonly string[]): Promise<GroupSnapshot>;
  /** undefined when it does not exist. */
  getGroupSnapshot(id: string): Promise<GroupSnapshot | undefined>;
  /** Not an error when it does not exist. */
  deleteGroupSnapshot(id: string): Promise<void>;
  /** Ranges the snapshot holds data for (no base) or that differ from `base`, from `startingOffset`. */
  snapshotBlocks(snapshotId: string, q: { base?: string; startingOffset: number; maxResults?: number }): Promise<BlockPage>;
}
