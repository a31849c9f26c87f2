import type { PoolAllocator } from './pool_allocator.ts';
import type { PoolModel } from './pool_model.ts';
import type { PoolFile } from './pool_file.ts';

export interface PoolCheckReport {
  ownedExtents: number;
  reservedExtents: number;
  freeExtents: number;
  /** Sum over volumes and snapshots of allocated bytes; equals the pool's used bytes when consistent. */
  allocatedBytes: number;
  problems: string[];
}

const CHECK_READ_BYTES = 1024 * 1024;

/**
 * fsck for a quiescent pool: every extent owned at most once, inside the pool and below
 * the zeroed mark, the allocator agreeing with ownership, and (optionally, by reading)
 * every free or reserved extent below the mark holding only zeros.
 */
export async function verifyPool(model: PoolModel, allocator: PoolAllocator, file: PoolFile, dataOffset: number,
  checkFreeZeroed: boolean): Promise<PoolCheckReport> {
  const problems: string[] = [];
  const owner = new Map<number, string>();
  let allocatedBytes = 0;
  for (const v of [...model.volumes.values(), ...model.snapshots.values()]) {
    allocatedBytes += v.map.size * model.extentSize;
    v.map.forEachMapped(0, model.extentsFor(v.sizeBytes), (l, p) => {
      const prev = owner.get(p);
      if (prev !== undefined) problems.push(`extent ${p} owned by ${prev} and ${v.name}`);
      owner.set(p, v.name);
      if (p >= model.extentCount) problems.push(`extent ${p} of ${v.name}@${l} is past the pool`);
      if (p >= model.hwm) problems.push(`extent ${p} of ${v.name}@${l} is above the zeroed mark`);
      if (!allocator.isUsed(p)) problems.push(`extent ${p} of ${v.name}@${l} is marked free`);
    });
  }
  for (const p of model.reserved) {
    if (owner.has(p)) problems.push(`extent ${p} is both reserved and owned`);
    if (!allocator.isUsed(p)) problems.push(`reserved extent ${p} is marked free`);
  }
  const expectedUsed = owner.size + model.reserved.size;
  if (allocator.usedCount !== expectedUsed) {
    problems.push(`allocator counts ${allocator.usedCount} used extents, ownership and reserve account for ${expectedUsed}`);
  }
  if (checkFreeZeroed) {
    const buf = Buffer.alloc(Math.min(CHECK_READ_BYTES, model.extentSize));
    const zeros = Buffer.alloc(buf.length);
    for (let p = 0; p < model.hwm; p++) {
      if (owner.has(p)) continue;
      for (let off = 0; off < model.extentSize; off += buf.length) {
        await file.read(buf, 0, buf.length, dataOffset + p * model.extentSize + off);
        if (!buf.equals(zeros)) {
          problems.push(`${model.reserved.has(p) ? 'reserved' : 'free'} extent ${p} holds data`);
          break;
        }
      }
    }
  }
  return {
    ownedExtents: owner.size, reservedExtents: model.reserved.size,
    freeExtents: model.extentCount - expectedUsed, allocatedBytes, problems,
  };
}
