import type { PoolAllocator } from './pool_allocator.ts';
import type { PoolModel } from './pool_model.ts';
import type { PoolFile } from './pool_file.ts';
import { GRAIN_WORDS } from './pool_grains.ts';

export interface PoolCheckReport {
  /** Pool extents referenced by at least one map or partial extent (shared ones once). */
  ownedExtents: number;
  reservedExtents: number;
  freeExtents: number;
  /** Partial extents (copy-up targets still reading grains from a base). */
  partialExtents: number;
  /** Pool extents referenced more than once. */
  sharedExtents: number;
  /** Sum over volumes and snapshots of mapped bytes (shared extents count for each entry). */
  allocatedBytes: number;
  problems: string[];
}

const CHECK_READ_BYTES = 1024 * 1024;
const MAX_PROBLEMS = 100;

/**
 * fsck for a quiescent pool (format 4): recomputes every reference count from the maps
 * and partial bases and compares it with the live counts; every referenced extent inside
 * the pool, below the zeroed mark, not reserved and marked used; every partial extent's
 * base referenced, its chain ending, its grain map no wider than the extent; the
 * allocator agreeing; and (optionally, by reading) every free or reserved extent below
 * the mark holding only zeros.
 */
export async function verifyPool(model: PoolModel, allocator: PoolAllocator, file: PoolFile, dataOffset: number,
  checkFreeZeroed: boolean): Promise<PoolCheckReport> {
  const problems: string[] = [];
  const problem = (s: string): void => { if (problems.length < MAX_PROBLEMS) problems.push(s); };
  const refs = new Uint32Array(model.extentCount);
  const who = new Map<number, string>();
  let allocatedBytes = 0;
  for (const v of [...model.volumes.values(), ...model.snapshots.values()]) {
    allocatedBytes += v.map.size * model.extentSize;
    v.map.forEachMapped(0, model.extentsFor(v.sizeBytes), (l, p) => {
      if (p >= model.extentCount) { problem(`extent ${p} of ${v.name}@${l} is past the pool`); return; }
      refs[p]++;
      if (!who.has(p)) who.set(p, `${v.name}@${l}`);
      if (p >= model.hwm) problem(`extent ${p} of ${v.name}@${l} is above the zeroed mark`);
    });
  }
  for (const [q, part] of model.partial) {
    if (part.base >= model.extentCount || q >= model.extentCount) { problem(`partial extent ${q} or its base ${part.base} is past the pool`); continue; }
    refs[part.base]++;
    if (part.base === q) problem(`partial extent ${q} is its own base`);
    if (model.refs[q] === 0) problem(`partial extent ${q} is referenced by nothing`);
    if (part.bits.length !== GRAIN_WORDS || part.live.length !== GRAIN_WORDS) problem(`partial extent ${q} has a grain map of the wrong size`);
    for (let g = model.grains; g < GRAIN_WORDS * 32; g++) {
      if ((part.bits[g >>> 5] & (1 << (g & 31))) !== 0) { problem(`partial extent ${q} has grain ${g} set past the extent`); break; }
    }
    for (let w = 0; w < GRAIN_WORDS; w++) {
      if ((part.bits[w] & ~part.live[w]) !== 0) { problem(`partial extent ${q} has recorded grains it does not read`); break; }
    }
    // The chain must end: a base is never (transitively) based on its own descendant.
    let hops = 0;
    for (let p = part.base; model.partial.has(p); p = model.partial.get(p)!.base) {
      if (++hops > model.partial.size) { problem(`partial extent ${q}'s base chain loops`); break; }
    }
  }
  let owned = 0;
  let shared = 0;
  for (let p = 0; p < model.extentCount; p++) {
    if (refs[p] !== model.refs[p]) problem(`extent ${p} has reference count ${model.refs[p]}, but ${refs[p]} references exist`);
    if (refs[p] === 0) continue;
    owned++;
    if (refs[p] > 1) shared++;
    const name = who.get(p) ?? 'a partial extent';
    if (p >= model.hwm && !who.has(p)) problem(`extent ${p} (a base) is above the zeroed mark`);
    if (model.reserved.has(p)) problem(`extent ${p} of ${name} is also reserved`);
    if (!allocator.isUsed(p)) problem(`extent ${p} of ${name} is marked free`);
  }
  for (const p of model.reserved) {
    if (!allocator.isUsed(p)) problem(`reserved extent ${p} is marked free`);
  }
  const expectedUsed = owned + model.reserved.size;
  if (allocator.usedCount !== expectedUsed) {
    problem(`allocator counts ${allocator.usedCount} used extents, references and reserve account for ${expectedUsed}`);
  }
  if (checkFreeZeroed) {
    const buf = Buffer.alloc(Math.min(CHECK_READ_BYTES, model.extentSize));
    const zeros = Buffer.alloc(buf.length);
    for (let p = 0; p < model.hwm; p++) {
      if (refs[p] !== 0) continue;
      for (let off = 0; off < model.extentSize; off += buf.length) {
        await file.read(buf, 0, buf.length, dataOffset + p * model.extentSize + off);
        if (!buf.equals(zeros)) {
          problem(`${model.reserved.has(p) ? 'reserved' : 'free'} extent ${p} holds data`);
          break;
        }
      }
    }
  }
  return {
    ownedExtents: owned, reservedExtents: model.reserved.size, freeExtents: model.extentCount - expectedUsed,
    partialExtents: model.partial.size, sharedExtents: shared, allocatedBytes, problems,
  };
}
