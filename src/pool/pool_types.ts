/** The pool's public shapes, apart from the class so callers and helpers can name them alone. */
import type { Logger } from '../util/log.ts';
import type { OwnershipOptions } from './pool_owner.ts';
import type { SpaceView } from './pool_space_watch.ts';

export interface PoolInfo extends SpaceView {
  name: string; uuid: string; path: string; formatVersion: number; extentSize: number;
  capacityBytes: number; usedBytes: number; freeBytes: number; volumeCount: number;
  /** Sum of volume sizes. */
  thinProvisionedBytes: number;
}

export interface VolumeInfo {
  name: string; uuid: string; sizeBytes: number; blockSize: 512 | 4096; thin: boolean;
  allocatedBytes: number; createdAt: string; state: 'online' | 'deleting';
}

export interface PoolCreateOptions {
  name: string;
  /** For a file: created or extended sparse to this size; for a block device: at most its size. */
  sizeBytes?: number;
  /** Power of two from 64 KiB to 64 MiB; default 1 MiB. */
  extentSize?: number;
  /** Journal region size (multiple of 4 KiB); default about 1/512 of the pool. */
  journalBytes?: number;
  /** A pool file whose every block is allocated on the host at create (a thick pool). */
  thick?: boolean;
  /** Format a target that holds data or a known signature (never another pool). */
  force?: boolean;
  ownership?: OwnershipOptions;
  logger?: Logger;
}

export interface PoolImportOptions {
  ownership?: OwnershipOptions;
  logger?: Logger;
}
