import type { PoolModel } from './pool_model.ts';
import type { PoolExtentMap } from './pool_extent_map.ts';
import { GRAIN_WORDS, hasGrain } from './pool_grains.ts';

/** A byte range of a volume or snapshot. */
export interface ByteRange {
  offset: number;
  length: number;
}

type Entry = { sizeBytes: number; map: PoolExtentMap };

/**
 * Changed-block tracking over the model (pure: no I/O). Shared extents make it cheap:
 * the same pool extent on both sides is unchanged without reading a byte, and a partial
 * extent whose base chain reaches the other side's extent differs only in its own grains.
 */

/** Byte ranges `e` has allocated (mapped extents, clipped to its size), merged. */
export function allocatedRanges(model: PoolModel, e: Entry): ByteRange[] {
  const out: ByteRange[] = [];
  const es = model.extentSize;
  e.map.forEachMapped(0, model.extentsFor(e.sizeBytes), (l) => push(out, l * es, es, e.sizeBytes));
  return out;
}

/** Byte ranges of `target` whose contents may differ from `base` (a superset; never misses a change). */
export function deltaRanges(model: PoolModel, base: Entry, target: Entry): ByteRange[] {
  const out: ByteRange[] = [];
  const es = model.extentSize;
  const gb = es / model.grains;
  const end = model.extentsFor(target.sizeBytes);
  const baseEnd = model.extentsFor(base.sizeBytes);
  const visit = (l: number): void => {
    const pt = target.map.get(l);
    const pb = l < baseEnd ? base.map.get(l) : -1;
    if (pt === pb) return;
    const bits = pt >= 0 && pb >= 0 ? divergence(model, pt, pb) : null;
    if (bits === null) { push(out, l * es, es, target.sizeBytes); return; }
    for (let g = 0; g < model.grains; g++) if (hasGrain(bits, g)) push(out, l * es + g * gb, gb, target.sizeBytes);
  };
  // Logical extents mapped on either side, in order, each once.
  const ls = new Set<number>();
  target.map.forEachMapped(0, end, (l) => ls.add(l));
  base.map.forEachMapped(0, Math.min(end, baseEnd), (l) => ls.add(l));
  for (const l of [...ls].sort((a, b) => a - b)) visit(l);
  return out;
}

/**
 * Grains in which extents `a` and `b` may differ when their base chains meet: the union of
 * the grains each chain holds above the common extent. null when the chains never meet.
 */
function divergence(model: PoolModel, a: number, b: number): Uint32Array | null {
  const chainA = chain(model, a);
  const chainB = chain(model, b);
  const inB = new Map<number, number>();
  chainB.forEach((p, i) => inB.set(p, i));
  for (let i = 0; i < chainA.length; i++) {
    const j = inB.get(chainA[i]);
    if (j === undefined) continue;
    const bits = new Uint32Array(GRAIN_WORDS);
    for (const p of [...chainA.slice(0, i), ...chainB.slice(0, j)]) {
      const part = model.partial.get(p);
      if (part !== undefined) for (let w = 0; w < GRAIN_WORDS; w++) bits[w] |= part.live[w];
    }
    return bits;
  }
  return null;
}

/** p, its base, its base's base, ... */
function chain(model: PoolModel, p: number): number[] {
  const out = [p];
  for (let part = model.partial.get(p); part !== undefined && out.length <= model.extentCount; part = model.partial.get(part.base)) {
    out.push(part.base);
  }
  return out;
}

/** Appends [offset, offset+length) clipped to `limit`, merging with the previous range. */
function push(out: ByteRange[], offset: number, length: number, limit: number): void {
  const len = Math.min(length, limit - offset);
  if (len <= 0) return;
  const last = out[out.length - 1];
  if (last !== undefined && last.offset + last.length === offset) last.length += len;
  else out.push({ offset, length: len });
}
