import { crc32c } from '../util/crc32c.ts';
import { bytesToUuid, isValidName, readU64, uuidToBytes, writeU64 } from './pool_bytes.ts';
import { POOL_FORMAT_VERSION, POOL_FORMAT_VERSION_MIN, SUPERBLOCK_BYTES, type PoolLayout } from './pool_layout.ts';
import { PoolCorruptError, PoolNotFoundError, PoolVersionError } from './pool_errors.ts';

/** "BERTHPOL": the first eight bytes of a pool. */
export const SUPERBLOCK_MAGIC = Buffer.from('BERTHPOL', 'latin1');
/** Set when extents were not known to be zero at create (a block device or a used file). */
export const SB_FLAG_DEVICE_NOT_ZEROED = 1;

export interface Superblock {
  formatVersion: number;
  uuid: string;
  name: string;
  createdAtMs: number;
  flags: number;
  layout: PoolLayout;
}

// Field offsets inside the 4 KiB superblock.
const OFF_VERSION = 8;
const OFF_USED = 12;
const OFF_UUID = 16;
const OFF_NAME_LEN = 32;
const OFF_NAME = 33;
const OFF_EXTENT_SIZE = 100;
const OFF_POOL_BYTES = 104;
const OFF_EXTENT_COUNT = 112;
const OFF_MAX_VOLUMES = 116;
const OFF_DATA = 120;
const OFF_SLOT_A = 128;
const OFF_SLOT_B = 136;
const OFF_SLOT_BYTES = 144;
const OFF_JOURNAL = 152;
const OFF_JOURNAL_BYTES = 160;
const OFF_FLAGS = 172;
const OFF_CREATED = 176;
const OFF_CRC = 184;
const SUPERBLOCK_USED = 188;

export function encodeSuperblock(sb: Superblock): Buffer {
  const buf = Buffer.alloc(SUPERBLOCK_BYTES);
  SUPERBLOCK_MAGIC.copy(buf, 0);
  buf.writeUInt32LE(sb.formatVersion, OFF_VERSION);
  buf.writeUInt32LE(SUPERBLOCK_USED, OFF_USED);
  uuidToBytes(sb.uuid).copy(buf, OFF_UUID);
  const name = Buffer.from(sb.name, 'latin1');
  buf.writeUInt8(name.length, OFF_NAME_LEN);
  name.copy(buf, OFF_NAME);
  const l = sb.layout;
  buf.writeUInt32LE(l.extentSize, OFF_EXTENT_SIZE);
  writeU64(buf, OFF_POOL_BYTES, l.poolBytes);
  buf.writeUInt32LE(l.extentCount, OFF_EXTENT_COUNT);
  buf.writeUInt32LE(l.maxVolumes, OFF_MAX_VOLUMES);
  writeU64(buf, OFF_DATA, l.dataOffset);
  writeU64(buf, OFF_SLOT_A, l.slotAOffset);
  writeU64(buf, OFF_SLOT_B, l.slotBOffset);
  writeU64(buf, OFF_SLOT_BYTES, l.slotBytes);
  writeU64(buf, OFF_JOURNAL, l.journalOffset);
  writeU64(buf, OFF_JOURNAL_BYTES, l.journalBytes);
  buf.writeUInt32LE(sb.flags, OFF_FLAGS);
  writeU64(buf, OFF_CREATED, sb.createdAtMs);
  buf.writeUInt32LE(crc32c(buf, 0, 0, OFF_CRC), OFF_CRC);
  return buf;
}

/** True when the block starts with the pool magic (checked before anything else). */
export function hasSuperblockMagic(buf: Buffer): boolean {
  return buf.length >= SUPERBLOCK_BYTES && buf.subarray(0, 8).equals(SUPERBLOCK_MAGIC);
}

/**
 * Decodes one superblock copy. Throws PoolNotFoundError without the magic,
 * PoolVersionError for another format version, PoolCorruptError for a bad checksum or
 * fields that cannot describe a pool.
 */
export function decodeSuperblock(buf: Buffer): Superblock {
  if (!hasSuperblockMagic(buf)) throw new PoolNotFoundError();
  const version = buf.readUInt32LE(OFF_VERSION);
  if (version < POOL_FORMAT_VERSION_MIN || version > POOL_FORMAT_VERSION) throw new PoolVersionError(version);
  if (buf.readUInt32LE(OFF_USED) !== SUPERBLOCK_USED) throw new PoolCorruptError('superblock length field is wrong');
  if (crc32c(buf, 0, 0, OFF_CRC) !== buf.readUInt32LE(OFF_CRC)) throw new PoolCorruptError('superblock checksum mismatch');
  const nameLen = buf.readUInt8(OFF_NAME_LEN);
  const name = buf.toString('latin1', OFF_NAME, OFF_NAME + nameLen);
  const layout: PoolLayout = {
    extentSize: buf.readUInt32LE(OFF_EXTENT_SIZE),
    poolBytes: readU64(buf, OFF_POOL_BYTES),
    extentCount: buf.readUInt32LE(OFF_EXTENT_COUNT),
    maxVolumes: buf.readUInt32LE(OFF_MAX_VOLUMES),
    dataOffset: readU64(buf, OFF_DATA),
    slotAOffset: readU64(buf, OFF_SLOT_A),
    slotBOffset: readU64(buf, OFF_SLOT_B),
    slotBytes: readU64(buf, OFF_SLOT_BYTES),
    journalOffset: readU64(buf, OFF_JOURNAL),
    journalBytes: readU64(buf, OFF_JOURNAL_BYTES),
  };
  if (!isValidName(name) || !layoutIsSane(layout)) throw new PoolCorruptError('superblock fields are inconsistent');
  return {
    formatVersion: version, uuid: bytesToUuid(buf, OFF_UUID), name,
    createdAtMs: readU64(buf, OFF_CREATED), flags: buf.readUInt32LE(OFF_FLAGS), layout,
  };
}

function layoutIsSane(l: PoolLayout): boolean {
  const es = l.extentSize;
  return es >= 65536 && (es & (es - 1)) === 0 && l.extentCount >= 1 && l.maxVolumes >= 1
    && l.slotAOffset >= 2 * SUPERBLOCK_BYTES && l.slotBOffset >= l.slotAOffset + l.slotBytes
    && l.journalOffset >= l.slotBOffset + l.slotBytes && l.journalBytes >= 4096 && l.journalBytes % 4096 === 0
    && l.dataOffset >= l.journalOffset + l.journalBytes
    && l.dataOffset + l.extentCount * es <= l.poolBytes;
}
