import { bytesToUuid, readU64, uuidToBytes, writeU64 } from './pool_bytes.ts';
import { PoolCorruptError } from './pool_errors.ts';
import { GRAIN_WORDS } from './pool_grains.ts';
import { toRuns } from './pool_allocator.ts';

const GRAIN_BYTES_ON_DISK = GRAIN_WORDS * 4;

/**
 * Metadata journal records: one type byte, then a fixed layout per type. Every change
 * to pool metadata is one of these; the checkpoint is their accumulated result.
 */
export const RecordType = {
  /** Extents below `hwm` are known to hold zeros unless owned. */
  HWM: 1,
  /** Pool extents [start, start+count) are reserved for thin allocation. */
  RESERVE: 2,
  /** Volume extents [l, l+count) now map to pool extents [p, p+count). */
  MAP: 3,
  /** Volume extents [l, l+count) are unmapped; their pool extents were zeroed and are free. */
  UNMAP: 4,
  VOL_CREATE: 5,
  VOL_RESIZE: 6,
  /** Delete started: the volume is erased next, then VOL_DELETE frees it. */
  VOL_DELETING: 7,
  VOL_DELETE: 8,
  /** Format 2: a snapshot of `source` is being filled; import erases it unless SNAP_READY follows. */
  SNAP_CREATE: 9,
  /** The snapshot's copy is complete and durable. */
  SNAP_READY: 10,
  SNAP_DELETING: 11,
  /** Snapshot gone; its extents were erased and are free. */
  SNAP_DELETE: 12,
  /** A clone's copy is complete: the volume (created with the filling flag) is usable. */
  VOL_FILLED: 13,
  /** Format 4: entry `dst` (new, empty) maps what entry `src` maps, sharing every extent. */
  SHARE: 14,
  /** Format 4: volume extent `l` moves from shared `base` to fresh `q`, whose unset grains read `base`. */
  COPYUP: 15,
  /** Format 4: grains of partial extent `q` hold their own data (durable before this record). */
  GRAINS: 16,
  /**
   * Format 5: grain `g` of partial extent `q` is about to hold data whose CRC-32 is `crc`
   * (written before that data, never synced by itself). Import takes the grain as the
   * extent's own only if its data has that checksum; otherwise it reads the base again.
   */
  TGRAIN: 17,
} as const;

/** VOL_CREATE flags byte. */
const VOL_FLAG_THIN = 1;
/** Format 2: created as a clone whose data is still being copied in. */
const VOL_FLAG_FILLING = 2;

export interface VolumeRecordFields {
  id: number;
  uuid: string;
  name: string;
  sizeBytes: number;
  blockSize: number;
  thin: boolean;
  createdAtMs: number;
  /** A clone whose copy has not finished (import erases it). */
  filling?: boolean;
}

export interface SnapshotRecordFields {
  id: number;
  uuid: string;
  name: string;
  /** Id of the volume it was taken from (ids are never reused). */
  sourceId: number;
  sizeBytes: number;
  blockSize: number;
  createdAtMs: number;
}

export type JournalRecord =
  | { type: typeof RecordType.HWM; hwm: number }
  | { type: typeof RecordType.RESERVE; start: number; count: number }
  | { type: typeof RecordType.MAP; vol: number; l: number; p: number; count: number }
  | { type: typeof RecordType.UNMAP; vol: number; l: number; count: number }
  | { type: typeof RecordType.VOL_CREATE; volume: VolumeRecordFields }
  | { type: typeof RecordType.VOL_RESIZE; vol: number; sizeBytes: number }
  | { type: typeof RecordType.VOL_DELETING; vol: number }
  | { type: typeof RecordType.VOL_DELETE; vol: number }
  | { type: typeof RecordType.SNAP_CREATE; snapshot: SnapshotRecordFields }
  | { type: typeof RecordType.SNAP_READY | typeof RecordType.SNAP_DELETING | typeof RecordType.SNAP_DELETE; snap: number }
  | { type: typeof RecordType.VOL_FILLED; vol: number }
  | { type: typeof RecordType.SHARE; dst: number; src: number }
  | { type: typeof RecordType.COPYUP; vol: number; l: number; q: number; base: number }
  | { type: typeof RecordType.GRAINS; q: number; bits: Uint32Array }
  | { type: typeof RecordType.TGRAIN; q: number; g: number; crc: number };

/** Largest encoded record (SNAP_CREATE with a 64-byte name). */
export const RECORD_MAX_BYTES = 1 + 4 + 16 + 4 + 8 + 4 + 8 + 1 + 64;

export function encodeRecord(rec: JournalRecord): Buffer {
  let b: Buffer;
  switch (rec.type) {
    case RecordType.HWM:
      b = Buffer.allocUnsafe(5); b.writeUInt32LE(rec.hwm, 1); break;
    case RecordType.RESERVE:
      b = Buffer.allocUnsafe(9); b.writeUInt32LE(rec.start, 1); b.writeUInt32LE(rec.count, 5); break;
    case RecordType.MAP:
      b = Buffer.allocUnsafe(17);
      b.writeUInt32LE(rec.vol, 1); b.writeUInt32LE(rec.l, 5); b.writeUInt32LE(rec.p, 9); b.writeUInt32LE(rec.count, 13);
      break;
    case RecordType.UNMAP:
      b = Buffer.allocUnsafe(13); b.writeUInt32LE(rec.vol, 1); b.writeUInt32LE(rec.l, 5); b.writeUInt32LE(rec.count, 9); break;
    case RecordType.VOL_CREATE: {
      const v = rec.volume;
      const name = Buffer.from(v.name, 'latin1');
      b = Buffer.allocUnsafe(43 + name.length);
      b.writeUInt32LE(v.id, 1);
      uuidToBytes(v.uuid).copy(b, 5);
      writeU64(b, 21, v.sizeBytes);
      b.writeUInt32LE(v.blockSize, 29);
      b.writeUInt8((v.thin ? VOL_FLAG_THIN : 0) | (v.filling === true ? VOL_FLAG_FILLING : 0), 33);
      writeU64(b, 34, v.createdAtMs);
      b.writeUInt8(name.length, 42);
      name.copy(b, 43);
      break;
    }
    case RecordType.VOL_RESIZE:
      b = Buffer.allocUnsafe(13); b.writeUInt32LE(rec.vol, 1); writeU64(b, 5, rec.sizeBytes); break;
    case RecordType.VOL_DELETING:
    case RecordType.VOL_DELETE:
    case RecordType.VOL_FILLED:
      b = Buffer.allocUnsafe(5); b.writeUInt32LE(rec.vol, 1); break;
    case RecordType.SNAP_READY:
    case RecordType.SNAP_DELETING:
    case RecordType.SNAP_DELETE:
      b = Buffer.allocUnsafe(5); b.writeUInt32LE(rec.snap, 1); break;
    case RecordType.SHARE:
      b = Buffer.allocUnsafe(9); b.writeUInt32LE(rec.dst, 1); b.writeUInt32LE(rec.src, 5); break;
    case RecordType.COPYUP:
      b = Buffer.allocUnsafe(17);
      b.writeUInt32LE(rec.vol, 1); b.writeUInt32LE(rec.l, 5); b.writeUInt32LE(rec.q, 9); b.writeUInt32LE(rec.base, 13);
      break;
    case RecordType.GRAINS:
      b = Buffer.allocUnsafe(1 + 4 + GRAIN_BYTES_ON_DISK); b.writeUInt32LE(rec.q, 1);
      for (let i = 0; i < GRAIN_WORDS; i++) b.writeUInt32LE(rec.bits[i] >>> 0, 5 + 4 * i);
      break;
    case RecordType.TGRAIN:
      b = Buffer.allocUnsafe(11);
      b.writeUInt32LE(rec.q, 1); b.writeUInt16LE(rec.g, 5); b.writeUInt32LE(rec.crc >>> 0, 7);
      break;
    case RecordType.SNAP_CREATE: {
      const v = rec.snapshot;
      const name = Buffer.from(v.name, 'latin1');
      b = Buffer.allocUnsafe(46 + name.length);
      b.writeUInt32LE(v.id, 1);
      uuidToBytes(v.uuid).copy(b, 5);
      b.writeUInt32LE(v.sourceId, 21);
      writeU64(b, 25, v.sizeBytes);
      b.writeUInt32LE(v.blockSize, 33);
      writeU64(b, 37, v.createdAtMs);
      b.writeUInt8(name.length, 45);
      name.copy(b, 46);
      break;
    }
  }
  b.writeUInt8(rec.type, 0);
  return b;
}

/** Decodes the records packed in `buf[start, end)`; a record cut short is corruption. */
export function decodeRecords(buf: Buffer, start: number, end: number): JournalRecord[] {
  const out: JournalRecord[] = [];
  let o = start;
  const need = (n: number): void => {
    if (o + n > end) throw new PoolCorruptError('journal record truncated');
  };
  while (o < end) {
    const type = buf.readUInt8(o);
    switch (type) {
      case RecordType.HWM: need(5); out.push({ type, hwm: buf.readUInt32LE(o + 1) }); o += 5; break;
      case RecordType.RESERVE:
        need(9); out.push({ type, start: buf.readUInt32LE(o + 1), count: buf.readUInt32LE(o + 5) }); o += 9; break;
      case RecordType.MAP:
        need(17);
        out.push({ type, vol: buf.readUInt32LE(o + 1), l: buf.readUInt32LE(o + 5), p: buf.readUInt32LE(o + 9), count: buf.readUInt32LE(o + 13) });
        o += 17;
        break;
      case RecordType.UNMAP:
        need(13); out.push({ type, vol: buf.readUInt32LE(o + 1), l: buf.readUInt32LE(o + 5), count: buf.readUInt32LE(o + 9) }); o += 13; break;
      case RecordType.VOL_CREATE: {
        need(43);
        const nameLen = buf.readUInt8(o + 42);
        need(43 + nameLen);
        out.push({ type, volume: {
          id: buf.readUInt32LE(o + 1), uuid: bytesToUuid(buf, o + 5), sizeBytes: readU64(buf, o + 21),
          blockSize: buf.readUInt32LE(o + 29), thin: (buf.readUInt8(o + 33) & VOL_FLAG_THIN) !== 0,
          filling: (buf.readUInt8(o + 33) & VOL_FLAG_FILLING) !== 0, createdAtMs: readU64(buf, o + 34),
          name: buf.toString('latin1', o + 43, o + 43 + nameLen),
        } });
        o += 43 + nameLen;
        break;
      }
      case RecordType.VOL_RESIZE:
        need(13); out.push({ type, vol: buf.readUInt32LE(o + 1), sizeBytes: readU64(buf, o + 5) }); o += 13; break;
      case RecordType.VOL_DELETING:
      case RecordType.VOL_DELETE:
      case RecordType.VOL_FILLED:
        need(5); out.push({ type, vol: buf.readUInt32LE(o + 1) }); o += 5; break;
      case RecordType.SNAP_READY:
      case RecordType.SNAP_DELETING:
      case RecordType.SNAP_DELETE:
        need(5); out.push({ type, snap: buf.readUInt32LE(o + 1) }); o += 5; break;
      case RecordType.SNAP_CREATE: {
        need(46);
        const nameLen = buf.readUInt8(o + 45);
        need(46 + nameLen);
        out.push({ type, snapshot: {
          id: buf.readUInt32LE(o + 1), uuid: bytesToUuid(buf, o + 5), sourceId: buf.readUInt32LE(o + 21),
          sizeBytes: readU64(buf, o + 25), blockSize: buf.readUInt32LE(o + 33), createdAtMs: readU64(buf, o + 37),
          name: buf.toString('latin1', o + 46, o + 46 + nameLen),
        } });
        o += 46 + nameLen;
        break;
      }
      case RecordType.SHARE:
        need(9); out.push({ type, dst: buf.readUInt32LE(o + 1), src: buf.readUInt32LE(o + 5) }); o += 9; break;
      case RecordType.COPYUP:
        need(17);
        out.push({ type, vol: buf.readUInt32LE(o + 1), l: buf.readUInt32LE(o + 5), q: buf.readUInt32LE(o + 9), base: buf.readUInt32LE(o + 13) });
        o += 17;
        break;
      case RecordType.GRAINS: {
        need(5 + GRAIN_BYTES_ON_DISK);
        const bits = new Uint32Array(GRAIN_WORDS);
        for (let i = 0; i < GRAIN_WORDS; i++) bits[i] = buf.readUInt32LE(o + 5 + 4 * i);
        out.push({ type, q: buf.readUInt32LE(o + 1), bits });
        o += 5 + GRAIN_BYTES_ON_DISK;
        break;
      }
      case RecordType.TGRAIN:
        need(11);
        out.push({ type, q: buf.readUInt32LE(o + 1), g: buf.readUInt16LE(o + 5), crc: buf.readUInt32LE(o + 7) });
        o += 11;
        break;
      default:
        throw new PoolCorruptError(`unknown journal record type ${type}`);
    }
  }
  return out;
}

/** MAP records for logical extents from `l0` onto `ps`, one per contiguous run. */
export function mapRuns(vol: number, l0: number, ps: number[]): JournalRecord[] {
  const out: JournalRecord[] = [];
  let l = l0;
  for (const [p, count] of toRuns(ps)) {
    out.push({ type: RecordType.MAP, vol, l, p, count });
    l += count;
  }
  return out;
}
