import { crc32c } from './crc32c.ts';
import { bytesToUuid, isValidName, readU64, uuidToBytes, writeU64 } from './pool_bytes.ts';
import { CHECKPOINT_HEADER_BYTES, CHECKPOINT_RUN_BYTES, CHECKPOINT_VOLUME_BYTES_MAX } from './pool_layout.ts';
import { PoolModel } from './pool_model.ts';
import { PoolCorruptError } from './pool_errors.ts';

/**
 * Checkpoint codec: the whole metadata state (volume table, each volume's extent map as
 * runs, the reserve list and counters) in one checksummed image. Two slots alternate by
 * generation; the checkpoint also names the journal epoch (generation + nonce) that
 * follows it.
 *
 * Header (64 bytes): magic "BCKP", crc32c of bytes [8, total), total u64, pool uuid,
 * generation u64, nonce, nextVolumeId, hwm, volumeCount, reserveCount, 4 spare.
 */
export const CHECKPOINT_MAGIC = 0x504b4342; // "BCKP" little-endian

const FLAG_THIN = 1;
const FLAG_DELETING = 2;

export interface CheckpointHead {
  totalBytes: number;
  generation: number;
  nonce: number;
}

export function encodeCheckpoint(model: PoolModel, uuid: string, generation: number, nonce: number): Buffer {
  let runs = 0;
  for (const v of model.volumes.values()) v.map.forEachRun(() => { runs++; });
  const total = CHECKPOINT_HEADER_BYTES + model.reserved.size * 4
    + model.volumes.size * CHECKPOINT_VOLUME_BYTES_MAX + runs * CHECKPOINT_RUN_BYTES;
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(CHECKPOINT_MAGIC, 0);
  uuidToBytes(uuid).copy(buf, 16);
  writeU64(buf, 32, generation);
  buf.writeUInt32LE(nonce, 40);
  buf.writeUInt32LE(model.nextVolumeId, 44);
  buf.writeUInt32LE(model.hwm, 48);
  buf.writeUInt32LE(model.volumes.size, 52);
  buf.writeUInt32LE(model.reserved.size, 56);
  let o = CHECKPOINT_HEADER_BYTES;
  for (const p of model.reserved) { buf.writeUInt32LE(p, o); o += 4; }
  for (const v of model.volumes.values()) {
    buf.writeUInt32LE(v.id, o);
    uuidToBytes(v.uuid).copy(buf, o + 4);
    writeU64(buf, o + 20, v.sizeBytes);
    buf.writeUInt32LE(v.blockSize, o + 28);
    buf.writeUInt8((v.thin ? FLAG_THIN : 0) | (v.deleting ? FLAG_DELETING : 0), o + 32);
    buf.writeUInt8(v.name.length, o + 33);
    buf.write(v.name, o + 34, 'latin1');
    writeU64(buf, o + 98, v.createdAtMs);
    const countAt = o + 106;
    o += CHECKPOINT_VOLUME_BYTES_MAX;
    let n = 0;
    v.map.forEachRun((l, p, count) => {
      buf.writeUInt32LE(l, o); buf.writeUInt32LE(p, o + 4); buf.writeUInt32LE(count, o + 8);
      o += CHECKPOINT_RUN_BYTES;
      n++;
    });
    buf.writeUInt32LE(n, countAt);
  }
  writeU64(buf, 8, total);
  buf.writeUInt32LE(crc32c(buf, 0, 8, total), 4);
  return buf;
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
      thin: (flags & FLAG_THIN) !== 0, createdAtMs: readU64(buf, o + 98),
    }, (flags & FLAG_DELETING) !== 0);
    const runCount = buf.readUInt32LE(o + 106);
    o += CHECKPOINT_VOLUME_BYTES_MAX;
    need(runCount * CHECKPOINT_RUN_BYTES);
    const lastExtent = model.extentsFor(sizeBytes);
    for (let r = 0; r < runCount; r++, o += CHECKPOINT_RUN_BYTES) {
      const l = buf.readUInt32LE(o);
      const p = buf.readUInt32LE(o + 4);
      const count = buf.readUInt32LE(o + 8);
      if (count < 1 || l + count > lastExtent || p + count > extentCount) throw new PoolCorruptError('checkpoint run out of range');
      for (let k = 0; k < count; k++) v.map.set(l + k, p + k);
    }
  }
  return model;
}
