import { decodeSuperblock, encodeSuperblock, type Superblock } from './pool_superblock.ts';
import { decodeCheckpoint, decodeCheckpointHead } from './pool_checkpoint.ts';
import { checkJournalBlock } from './pool_journal_block.ts';
import { decodeRecords } from './pool_journal_record.ts';
import { uuidToBytes } from './pool_bytes.ts';
import { META_BLOCK_BYTES, POOL_FORMAT_VERSION, SUPERBLOCK_BYTES } from './pool_layout.ts';

/** The superblock's fields and checksum all sit in its first sector. */
const SUPERBLOCK_HEAD_BYTES = 512;
import { PoolCorruptError, PoolNotFoundError } from './pool_errors.ts';
import type { PoolModel } from './pool_model.ts';
import type { PoolFile } from './pool_file.ts';

const JOURNAL_READ_BYTES = 1024 * 1024;

export interface LoadedPool {
  sb: Superblock;
  model: PoolModel;
  /** Generation of the checkpoint the model started from. */
  generation: number;
  /** Journal blocks replayed on top of it. */
  replayedBlocks: number;
  /** A newer slot that failed its checksum (a checkpoint torn by a crash) was passed over. */
  skippedTornSlot: boolean;
}

/**
 * Reads a pool's metadata back: a superblock copy that checks out (primary, else
 * backup), the newest checkpoint slot whose checksum holds, then the journal blocks of
 * that checkpoint's epoch from block 0 for as long as each is valid and in sequence.
 */
export async function loadPool(file: PoolFile): Promise<LoadedPool> {
  const sb = await readSuperblock(file);
  const l = sb.layout;
  let best: { model: PoolModel; generation: number; nonce: number } | null = null;
  let tornGeneration = -1;
  for (const at of [l.slotAOffset, l.slotBOffset]) {
    const head = Buffer.alloc(META_BLOCK_BYTES);
    await file.read(head, 0, head.length, at);
    const h = decodeCheckpointHead(head, sb.uuid, l.slotBytes);
    if (h === null || (best !== null && h.generation <= best.generation)) continue;
    let image = head;
    if (h.totalBytes > head.length) {
      image = Buffer.alloc(h.totalBytes);
      await file.read(image, 0, h.totalBytes, at);
    }
    const model = decodeCheckpoint(image, l.extentCount, l.extentSize);
    if (model !== null) best = { model, generation: h.generation, nonce: h.nonce };
    else tornGeneration = Math.max(tornGeneration, h.generation);
  }
  if (best === null) throw new PoolCorruptError('no valid checkpoint in either slot');
  const replayedBlocks = await replayJournal(file, sb, best.model, best.generation, best.nonce);
  return { sb, model: best.model, generation: best.generation, replayedBlocks, skippedTornSlot: tornGeneration > best.generation };
}

export async function readSuperblock(file: PoolFile): Promise<Superblock> {
  const buf = Buffer.alloc(2 * SUPERBLOCK_BYTES);
  await file.read(buf, 0, buf.length, 0);
  try {
    return decodeSuperblock(buf.subarray(0, SUPERBLOCK_BYTES));
  } catch (primaryErr) {
    try {
      return decodeSuperblock(buf.subarray(SUPERBLOCK_BYTES));
    } catch (backupErr) {
      // Report the more specific problem: a damaged pool over "no pool".
      throw primaryErr instanceof PoolNotFoundError ? backupErr : primaryErr;
    }
  }
}

async function replayJournal(file: PoolFile, sb: Superblock, model: PoolModel, generation: number, nonce: number): Promise<number> {
  const l = sb.layout;
  const epoch = { uuid: uuidToBytes(sb.uuid), generation, nonce };
  const buf = Buffer.alloc(Math.min(JOURNAL_READ_BYTES, l.journalBytes));
  let seq = 0;
  for (let at = 0; at < l.journalBytes; at += buf.length) {
    const n = Math.min(buf.length, l.journalBytes - at);
    await file.read(buf, 0, n, l.journalOffset + at);
    for (let off = 0; off < n; off += META_BLOCK_BYTES) {
      const payload = checkJournalBlock(buf, off, epoch, seq);
      if (payload === null) return seq;
      for (const rec of decodeRecords(buf, payload.start, payload.end)) model.apply(rec);
      seq++;
    }
  }
  return seq;
}

/**
 * Rewrites an older format's superblock as the current version (each format is a subset
 * of the next: format 1 has no snapshot records, format 2 no owner record). Primary
 * first, then the backup, each synced: a crash in between leaves two valid copies of
 * either version. Only the superblock's first sector is written, so the owner record
 * further into the block (format 3) stays as the import's claim left it.
 */
export async function upgradeSuperblock(file: PoolFile, sb: Superblock,
  writePrimary: (head: Buffer) => Promise<void> = (head) => file.write(head, 0, head.length, 0)): Promise<Superblock> {
  if (sb.formatVersion >= POOL_FORMAT_VERSION) return sb;
  const next: Superblock = { ...sb, formatVersion: POOL_FORMAT_VERSION };
  const head = encodeSuperblock(next).subarray(0, SUPERBLOCK_HEAD_BYTES);
  await writePrimary(head);
  await file.sync();
  await file.write(head, 0, head.length, SUPERBLOCK_BYTES);
  await file.sync();
  return next;
}
