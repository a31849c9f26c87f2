import type { PoolModel } from './pool_model.ts';
import type { PoolExtentMap } from './pool_extent_map.ts';
import { CHECKPOINT_HEADER_BYTES, CHECKPOINT_PARTIAL_BYTES, CHECKPOINT_RUN_BYTES, CHECKPOINT_TENTATIVE_BYTES, CHECKPOINT_VOLUME_BYTES_MAX } from './pool_layout.ts';
import { GRAIN_WORDS, countGrains } from './pool_grains.ts';

/**
 * Bytes only this entry holds: what deleting it would give back. An extent it maps counts
 * whole when it is the only reference; an extent whose other references are all partial
 * extents based on it counts the grains every one of them has overwritten (the others
 * still read through). Exact to the grain; pure.
 */
export function snapshotExclusiveBytes(model: PoolModel, e: { sizeBytes: number; map: PoolExtentMap }): number {
  const es = model.extentSize;
  const grainBytes = es / model.grains;
  let children: Map<number, Uint32Array[]> | null = null;
  let bytes = 0;
  e.map.forEachMapped(0, model.extentsFor(e.sizeBytes), (_l, p) => {
    const refs = model.refs[p];
    if (refs === 1) { bytes += es; return; }
    if (children === null) {
      children = new Map();
      for (const part of model.partial.values()) {
        const list = children.get(part.base);
        if (list === undefined) children.set(part.base, [part.live]); else list.push(part.live);
      }
    }
    const kids = children.get(p);
    if (kids === undefined || kids.length !== refs - 1) return;
    const all = new Uint32Array(GRAIN_WORDS).fill(0xffff_ffff);
    for (const bits of kids) for (let w = 0; w < GRAIN_WORDS; w++) all[w] &= bits[w];
    bytes += countGrains(all.subarray(0, Math.ceil(model.grains / 32))) * grainBytes;
  });
  return bytes;
}

/** Size of the checkpoint the model would encode now (pool_checkpoint.ts). */
export function checkpointBytes(model: PoolModel): number {
  let runs = 0;
  for (const v of model.volumes.values()) runs += v.map.runs;
  for (const v of model.snapshots.values()) runs += v.map.runs;
  return CHECKPOINT_HEADER_BYTES + model.reserved.size * 4 + model.entryCount * CHECKPOINT_VOLUME_BYTES_MAX
    + runs * CHECKPOINT_RUN_BYTES + 4 + model.partial.size * CHECKPOINT_PARTIAL_BYTES
    + 4 + tentativeCount(model) * CHECKPOINT_TENTATIVE_BYTES;
}

/** Tentative grain CRCs the model holds (the checkpoint stores one entry each). */
export function tentativeCount(model: PoolModel): number {
  let n = 0;
  for (const crcs of model.tentative.values()) n += crcs.length;
  return n;
}
