import { InvalidSizeError } from './pool_errors.ts';

/**
 * Where each region of a pool lives. Pure arithmetic: the same inputs always give the
 * same layout, and the superblock records the result so later code never recomputes it.
 *
 *   0          superblock (primary)
 *   4 KiB      superblock (backup)
 *   8 KiB      checkpoint slot A   (slotBytes, sized for the worst case)
 *   ...        checkpoint slot B
 *   ...        journal             (journalBytes, 4 KiB blocks)
 *   dataOffset extents            (extentCount x extentSize)
 */
/**
 * Format 2 added snapshots and clones (record types 9-13, the checkpoint's snapshot table);
 * format 3 the owner record at 2 KiB into the primary superblock's block (pool_owner_record.ts);
 * format 4 copy-on-write sharing (records 14-16, the checkpoint's partial-extent table);
 * format 5 tentative grains (record 17, the checkpoint's tentative-grain table).
 */
export const POOL_FORMAT_VERSION = 5;
/** Oldest format this code reads; import upgrades it in place to POOL_FORMAT_VERSION. */
export const POOL_FORMAT_VERSION_MIN = 1;
export const SUPERBLOCK_BYTES = 4096;
export const META_BLOCK_BYTES = 4096;
export const MIN_EXTENT_SIZE = 64 * 1024;
export const MAX_EXTENT_SIZE = 64 * 1024 * 1024;
export const DEFAULT_EXTENT_SIZE = 1024 * 1024;
/** Table entries (volumes + snapshots) of a small pool; pools made before format 4 keep it. */
export const MIN_MAX_VOLUMES = 1024;
/** Table entries of a pool of about 1 GiB or more (format 4). */
export const MAX_MAX_VOLUMES = 65536;

/**
 * Table entries for a new pool: 65,536 from about 1 GiB up, fewer for a small pool so
 * its two checkpoint slots spend at most 1/64 of it on table records (110 bytes each),
 * never fewer than 1024.
 */
export function defaultMaxVolumes(poolBytes: number): number {
  return Math.max(MIN_MAX_VOLUMES, Math.min(MAX_MAX_VOLUMES, Math.floor(poolBytes / 64 / (2 * CHECKPOINT_VOLUME_BYTES_MAX))));
}
/** Extents a refill reserves ahead of thin allocations, in bytes of capacity. */
export const RESERVE_WINDOW_BYTES = 64 * 1024 * 1024;
export const RESERVE_WINDOW_MAX = 512;

/** Checkpoint sizing constants; pool_checkpoint.ts encodes exactly these shapes. */
export const CHECKPOINT_HEADER_BYTES = 64;
export const CHECKPOINT_VOLUME_BYTES_MAX = 4 + 16 + 8 + 4 + 1 + 1 + 64 + 8 + 4;
export const CHECKPOINT_RUN_BYTES = 12;
/** Format 4 partial extent: q u32, base u32, 256-bit grain map. */
export const CHECKPOINT_PARTIAL_BYTES = 4 + 4 + 32;
/** Format 5: a tentative grain (key u64 = q * 256 + grain, CRC-32 u32). */
export const CHECKPOINT_TENTATIVE_BYTES = 8 + 4;

export interface PoolLayout {
  poolBytes: number;
  extentSize: number;
  extentCount: number;
  maxVolumes: number;
  slotAOffset: number;
  slotBOffset: number;
  slotBytes: number;
  journalOffset: number;
  journalBytes: number;
  dataOffset: number;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export function reserveWindow(extentSize: number): number {
  return Math.max(8, Math.min(RESERVE_WINDOW_MAX, Math.floor(RESERVE_WINDOW_BYTES / extentSize)));
}

/** A journal of about 1/512 of the pool, between 256 KiB and 64 MiB. */
export function defaultJournalBytes(poolBytes: number): number {
  const want = roundUp(Math.floor(poolBytes / 512), META_BLOCK_BYTES);
  return Math.max(256 * 1024, Math.min(64 * 1024 * 1024, want));
}

export function checkpointSlotBytes(extentCount: number, maxVolumes: number, extentSize: number): number {
  // Unshared, every run covers at least one pool extent, so all maps together have at most
  // extentCount runs (+1 per entry for a split). Shared maps (format 4) repeat runs: the
  // slot has room for twice that, and a share is refused when the checkpoint after it
  // would pass half the slot (pool_snapshots.ts), leaving the rest for divergence.
  // Partial extents are at most one per pool extent. Tentative grains (format 5) are the
  // grain writes in flight when the image is taken, a few thousand entries at most: they
  // fit in the room kept for shared runs.
  return roundUp(CHECKPOINT_HEADER_BYTES + reserveWindow(extentSize) * 4 + maxVolumes * CHECKPOINT_VOLUME_BYTES_MAX
    + (2 * extentCount + maxVolumes) * CHECKPOINT_RUN_BYTES + 4 + extentCount * CHECKPOINT_PARTIAL_BYTES, META_BLOCK_BYTES);
}

export function validateExtentSize(extentSize: number): void {
  if (!Number.isInteger(extentSize) || extentSize < MIN_EXTENT_SIZE || extentSize > MAX_EXTENT_SIZE
    || (extentSize & (extentSize - 1)) !== 0) {
    throw new InvalidSizeError('extent size must be a power of two from 64 KiB to 64 MiB');
  }
}

export function computeLayout(poolBytes: number, extentSize: number, journalBytes = defaultJournalBytes(poolBytes),
  maxVolumes = defaultMaxVolumes(poolBytes)): PoolLayout {
  validateExtentSize(extentSize);
  if (!Number.isSafeInteger(poolBytes) || poolBytes <= 0) throw new InvalidSizeError('pool size must be a positive integer');
  if (!Number.isInteger(journalBytes) || journalBytes < 4 * META_BLOCK_BYTES || journalBytes % META_BLOCK_BYTES !== 0) {
    throw new InvalidSizeError('journal size must be a multiple of 4 KiB, at least 16 KiB');
  }
  const upperExtents = Math.floor(poolBytes / extentSize);
  const slotBytes = checkpointSlotBytes(upperExtents, maxVolumes, extentSize);
  const slotAOffset = 2 * SUPERBLOCK_BYTES;
  const slotBOffset = slotAOffset + slotBytes;
  const journalOffset = slotBOffset + slotBytes;
  const dataOffset = roundUp(journalOffset + journalBytes, Math.min(extentSize, 1024 * 1024));
  const extentCount = Math.floor((poolBytes - dataOffset) / extentSize);
  if (extentCount < 1) throw new InvalidSizeError('pool is too small to hold its metadata and one extent');
  if (extentCount > 0xffff_fffe) throw new InvalidSizeError('pool has too many extents; choose a larger extent size');
  return { poolBytes, extentSize, extentCount, maxVolumes, slotAOffset, slotBOffset, slotBytes, journalOffset, journalBytes, dataOffset };
}
