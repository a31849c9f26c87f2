import { crc32c } from '../util/crc32c.ts';
import { META_BLOCK_BYTES } from './pool_layout.ts';
import { writeU64, readU64 } from './pool_bytes.ts';

/**
 * Journal block framing. Each 4 KiB block carries its epoch (the generation and random
 * nonce of the checkpoint it follows), its sequence number within the epoch and a CRC32C,
 * so replay accepts exactly the contiguous run of blocks written after that checkpoint
 * and nothing left over from an older epoch or an older pool on the same device.
 */
export const JOURNAL_MAGIC = 0x4c4e4a42; // "BJNL" little-endian
export const JOURNAL_HEADER_BYTES = 48;
export const JOURNAL_PAYLOAD_BYTES = META_BLOCK_BYTES - JOURNAL_HEADER_BYTES;

const OFF_CRC = 4;
const OFF_UUID = 8;
const OFF_GEN = 24;
const OFF_NONCE = 32;
const OFF_SEQ = 36;
const OFF_USED = 40;
const OFF_COUNT = 42;

export interface JournalEpoch {
  uuid: Buffer; // 16 bytes
  generation: number;
  nonce: number;
}

/** Splits encoded records into per-block groups; a record never straddles two blocks. */
export function packRecords(records: readonly Buffer[]): Buffer[][] {
  const blocks: Buffer[][] = [];
  let cur: Buffer[] = [];
  let used = 0;
  for (const r of records) {
    if (used + r.length > JOURNAL_PAYLOAD_BYTES) { blocks.push(cur); cur = []; used = 0; }
    cur.push(r);
    used += r.length;
  }
  if (cur.length > 0) blocks.push(cur);
  return blocks;
}

/** Writes one framed block at `buf[off, off+4096)`. */
export function encodeJournalBlock(buf: Buffer, off: number, epoch: JournalEpoch, seq: number, records: readonly Buffer[]): void {
  buf.fill(0, off, off + META_BLOCK_BYTES);
  buf.writeUInt32LE(JOURNAL_MAGIC, off);
  epoch.uuid.copy(buf, off + OFF_UUID);
  writeU64(buf, off + OFF_GEN, epoch.generation);
  buf.writeUInt32LE(epoch.nonce, off + OFF_NONCE);
  buf.writeUInt32LE(seq, off + OFF_SEQ);
  let o = off + JOURNAL_HEADER_BYTES;
  for (const r of records) { r.copy(buf, o); o += r.length; }
  buf.writeUInt16LE(o - off - JOURNAL_HEADER_BYTES, off + OFF_USED);
  buf.writeUInt16LE(records.length, off + OFF_COUNT);
  buf.writeUInt32LE(crc32c(buf, 0, off + 8, off + META_BLOCK_BYTES), off + OFF_CRC);
}

/**
 * Checks the block at `buf[off, off+4096)` belongs to `epoch` at position `seq`.
 * Returns the payload byte range, or null where replay must stop.
 */
export function checkJournalBlock(buf: Buffer, off: number, epoch: JournalEpoch, seq: number): { start: number; end: number } | null {
  if (buf.readUInt32LE(off) !== JOURNAL_MAGIC) return null;
  if (!buf.subarray(off + OFF_UUID, off + OFF_UUID + 16).equals(epoch.uuid)) return null;
  if (readU64(buf, off + OFF_GEN) !== epoch.generation || buf.readUInt32LE(off + OFF_NONCE) !== epoch.nonce) return null;
  if (buf.readUInt32LE(off + OFF_SEQ) !== seq) return null;
  if (crc32c(buf, 0, off + 8, off + META_BLOCK_BYTES) !== buf.readUInt32LE(off + OFF_CRC)) return null;
  const used = buf.readUInt16LE(off + OFF_USED);
  if (used > JOURNAL_PAYLOAD_BYTES) return null;
  const start = off + JOURNAL_HEADER_BYTES;
  return { start, end: start + used };
}
