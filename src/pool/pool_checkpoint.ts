import { crc32c } from '../util/crc32c.ts';
import { bytesToUuid, isValidName, readU64, uuidToBytes, writeU64 } from './pool_bytes.ts';
import { CHECKPOINT_HEADER_BYTES, CHECKPOINT_PARTIAL_BYTES, CHECKPOINT_RUN_BYTES, CHECKPOINT_TENTATIVE_BYTES, CHECKPOINT_VOLUME_BYTES_MAX } from './pool_layout.ts';
import { checkpointBytes, tentativeCount } from './pool_space.ts';
import { GRAIN_WORDS } from './pool_grains.ts';
import { PoolModel } from './pool_model.ts';
import type { PoolExtentMap } from './pool_extent_map.ts';
import { PoolCorruptError } from './pool_errors.ts';

/**
 * Checkpoint codec: the whole metadata state (volume table, each volume's extent map as
 * runs, the reserve list and counters) in one checksummed image. Two slots alternate by
 * generation; the checkpoint also names the journal epoch (generation + nonce) that
 * follows it.
 *
 * Header (64 bytes): magic "BCKP", crc32c of bytes [8, total), total u64, pool uuid,
 * generation u64, nonce, nextVolumeId, hwm, volumeCount, reserveCount, snapshotCount
 * (format 2; zero in format 1). Snapshot records follow the volume records in the same
 * 110-byte shape, with the source volume id where a volume keeps its block size.
 */
export const CHECKPOINT_MAGIC = 0x504b4342; // "BCKP" little-endian

const FLAG_THIN = 1;
const FLAG_DELETING = 2;
const FLAG_FILLING = 4;
/** Snapshot record flags (the block size lives here because bytes 28..31 hold the source id). */
const SNAP_FLAG_4K = 1;
const SNAP_FLAG_DELETING = 2;
const SNAP_FLAG_CREATING = 4;
const OFF_SNAPSHOT_COUNT = 60;

export interface CheckpointHead {
  totalBytes: number;
  generation: number;
  nonce: number;
}

export function encodeCheckpoint(model: PoolModel, uuid: string, generation: number, nonce: number): Buffer {
  const total = checkpointBytes(model);
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(CHECKPOINT_MAGIC, 0);
  uuidToBytes(uuid).copy(buf, 16);
  writeU64(buf, 32, generation);
  buf.writeUInt32LE(nonce, 40);
  buf.writeUInt32LE(model.nextVolumeId, 44);
  buf.writeUInt32LE(model.hwm, 48);
  buf.writeUInt32LE(model.volumes.size, 52);
  buf.writeUInt32LE(model.reserved.size, 56);
  buf.writeUInt32LE(model.snapshots.size, OFF_SNAPSHOT_COUNT);
  let o = CHECKPOINT_HEADER_BYTES;
  for (const p of model.reserved) { buf.writeUInt32LE(p, o); o += 4; }
  for (const v of model.volumes.values()) {
    buf.writeUInt32LE(v.id, o);
    uuidToBytes(v.uuid).copy(buf, o + 4);
    writeU64(buf, o + 20, v.sizeBytes);
    buf.writeUInt32LE(v.blockSize, o + 28);
    buf.writeUInt8((v.thin ? FLAG_THIN : 0) | (v.deleting ? FLAG_DELETING : 0) | (v.filling ? FLAG_FILLING : 0), o + 32);
    o = encodeTail(buf, o, v);
  }
  for (const s of model.snapshots.values()) {
    buf.writeUInt32LE(s.id, o);
    uuidToBytes(s.uuid).copy(buf, o + 4);
    writeU64(buf, o + 20, s.sizeBytes);
    buf.writeUInt32LE(s.sourceId, o + 28);
    const state = s.state === 'deleting' ? SNAP_FLAG_DELETING : s.state === 'creating' ? SNAP_FLAG_CREATING : 0;
    buf.writeUInt8((s.blockSize === 4096 ? SNAP_FLAG_4K : 0) | state, o + 32);
    o = encodeTail(buf, o, s);
  }
  // Format 4: the partial-extent table (absent in 1-3, where the image ends here). A grain
  // written since its last GRAINS record counts as recorded: its data write finished
  // before its live bit was set, and the journal fdatasyncs before it writes this image.
  buf.writeUInt32LE(model.partial.size, o);
  o += 4;
  for (const [q, part] of model.partial) {
    buf.writeUInt32LE(q, o);
    buf.writeUInt32LE(part.base, o + 4);
    for (let i = 0; i < GRAIN_WORDS; i++) buf.writeUInt32LE((part.bits[i] | part.live[i]) >>> 0, o + 8 + 4 * i);
    o += CHECKPOINT_PARTIAL_BYTES;
  }
  // Format 5: tentative grains (grain writes in flight), one CRC each (absent before).
  buf.writeUInt32LE(tentativeCount(model), o);
  o += 4;
  for (const [key, crcs] of model.tentative) {
    for (const crc of crcs) {
      writeU64(buf, o, key);
      buf.writeUInt32LE(crc >>> 0, o + 8);
      o += CHECKPOINT_TENTATIVE_BYTES;
    }
  }
  writeU64(buf, 8, total);
  buf.writeUInt32LE(crc32c(buf, 0, 8, total), 4);
  return buf;
}

/** Name, createdAt and the run-length extent map shared by volume and snapshot records; returns the next offset. */
function encodeTail(buf: Buffer, o: number, v: { name: string; createdAtMs: number; map: PoolExtentMap }): number {
  buf.writeUInt8(v.name.length, o + 33);
  buf.write(v.name, o + 34, 'latin1');
  writeU64(buf, o + 98, v.createdAtMs);
  const countAt = o + 106;
  let at = o + CHECKPOINT_VOLUME_BYTES_MAX;
  let n = 0;
  v.map.forEachRun((l, p, count) => {
    buf.writeUInt32LE(l, at); buf.writeUInt32LE(p, at + 4); buf.writeUInt32LE(count, at + 8);
    at += CHECKPOINT_RUN_BYTES;
    n++;
  });
  buf.writeUInt32LE(n, countAt);
  return at;
}

/** Reads the fixed header; null when the slot holds no checkpoint of this pool. */
export function decodeCheckpointHead(buf: Buffer, uuid: string, slotBytes: number): CheckpointHead | null {
  if (buf.length < CHECKPOINT_HEADER_BYTES || buf.readUInt32LE(0) !== CHECKPOINT_MAGIC) return null;
  if (bytesToUuid(buf, 16) !== uuid) return null;
  const totalBytes = readU64(buf, 8);
  if (!(totalBytes >= CHECKPOINT_HEADER_BYTES && totalBytes <= slotBytes)) return null;
  return { totalBytes, generation: readU64(buf, 32), nonce: buf.readUInt32LE(40) };
}

/** Decodes a whole checkpoint image; null on a checksum mismatch, PoolCorruptError on nonsense that checksums. */
export function decodeCheckpoint(buf: Buffer, extentCount: number, extentSize: number): PoolModel | null {
  const total = readU64(buf, 8);
  if (!(total <= buf.length) || crc32c(buf, 0, 8, total) !== buf.readUInt32LE(4)) return null;
  const model = new PoolModel(extentCount, extentSize);
  model.nextVolumeId = buf.readUInt32LE(44);
  model.hwm = buf.readUInt32LE(48);
  const volumeCount = buf.readUInt32LE(52);
  const reserveCount = buf.readUInt32LE(56);
  const snapshotCount = buf.readUInt32LE(OFF_SNAPSHOT_COUNT);
  if (model.hwm > extentCount) throw new PoolCorruptError('checkpoint high-water mark past the pool');
  let o = CHECKPOINT_HEADER_BYTES;
  const need = (n: number): void => {
    if (o + n > total) throw new PoolCorruptError('checkpoint truncated');
  };
  need(reserveCount * 4);
  for (let i = 0; i < reserveCount; i++, o += 4) {
    const p = buf.readUInt32LE(o);
    if (p >= extentCount) throw new PoolCorruptError('reserved extent past the pool');
    model.reserved.add(p);
  }
  const readRuns = (map: PoolExtentMap, sizeBytes: number): void => {
    const runCount = buf.readUInt32LE(o + 106);
    o += CHECKPOINT_VOLUME_BYTES_MAX;
    need(runCount * CHECKPOINT_RUN_BYTES);
    const lastExtent = model.extentsFor(sizeBytes);
    for (let r = 0; r < runCount; r++, o += CHECKPOINT_RUN_BYTES) {
      const l = buf.readUInt32LE(o);
      const p = buf.readUInt32LE(o + 4);
      const count = buf.readUInt32LE(o + 8);
      if (count < 1 || l + count > lastExtent || p + count > extentCount) throw new PoolCorruptError('checkpoint run out of range');
      for (let k = 0; k < count; k++) map.set(l + k, p + k);
    }
  };
  for (let i = 0; i < volumeCount; i++) {
    need(CHECKPOINT_VOLUME_BYTES_MAX);
    const flags = buf.readUInt8(o + 32);
    const name = buf.toString('latin1', o + 34, o + 34 + buf.readUInt8(o + 33));
    const blockSize = buf.readUInt32LE(o + 28);
    const sizeBytes = readU64(buf, o + 20);
    if (!isValidName(name) || (blockSize !== 512 && blockSize !== 4096) || !Number.isSafeInteger(sizeBytes)) {
      throw new PoolCorruptError('checkpoint volume record is invalid');
    }
    const v = model.addVolume({
      id: buf.readUInt32LE(o), uuid: bytesToUuid(buf, o + 4), name, sizeBytes, blockSize,
      thin: (flags & FLAG_THIN) !== 0, filling: (flags & FLAG_FILLING) !== 0, createdAtMs: readU64(buf, o + 98),
    }, (flags & FLAG_DELETING) !== 0);
    readRuns(v.map, sizeBytes);
  }
  for (let i = 0; i < snapshotCount; i++) {
    need(CHECKPOINT_VOLUME_BYTES_MAX);
    const flags = buf.readUInt8(o + 32);
    const name = buf.toString('latin1', o + 34, o + 34 + buf.readUInt8(o + 33));
    const sizeBytes = readU64(buf, o + 20);
    if (!isValidName(name) || !Number.isSafeInteger(sizeBytes) || model.snapshotsByName.has(name)) {
      throw new PoolCorruptError('checkpoint snapshot record is invalid');
    }
    const state = (flags & SNAP_FLAG_DELETING) !== 0 ? 'deleting' : (flags & SNAP_FLAG_CREATING) !== 0 ? 'creating' : 'ready';
    const s = model.addSnapshot({
      id: buf.readUInt32LE(o), uuid: bytesToUuid(buf, o + 4), name, sizeBytes, sourceId: buf.readUInt32LE(o + 28),
      blockSize: (flags & SNAP_FLAG_4K) !== 0 ? 4096 : 512, createdAtMs: readU64(buf, o + 98),
    }, state);
    readRuns(s.map, sizeBytes);
  }
  if (o < total) {
    need(4);
    const partials = buf.readUInt32LE(o);
    o += 4;
    need(partials * CHECKPOINT_PARTIAL_BYTES);
    for (let i = 0; i < partials; i++, o += CHECKPOINT_PARTIAL_BYTES) {
      const bits = new Uint32Array(GRAIN_WORDS);
      for (let w = 0; w < GRAIN_WORDS; w++) bits[w] = buf.readUInt32LE(o + 8 + 4 * w);
      model.loadPartial(buf.readUInt32LE(o), buf.readUInt32LE(o + 4), bits);
    }
  }
  if (o < total) {
    need(4);
    const n = buf.readUInt32LE(o);
    o += 4;
    need(n * CHECKPOINT_TENTATIVE_BYTES);
    for (let i = 0; i < n; i++, o += CHECKPOINT_TENTATIVE_BYTES) {
      const key = readU64(buf, o);
      const list = model.tentative.get(key);
      if (list === undefined) model.tentative.set(key, [buf.readUInt32LE(o + 8)]); else list.push(buf.readUInt32LE(o + 8));
    }
  }
  model.rebuildRefs();
  return model;
}
