/**
 * A volume's logical-extent -> pool-extent map. Two levels of 4096-entry chunks created
 * on first use, so a 64 TiB thin volume costs a small array of empty slots until it is
 * written, and a lookup is two indexed loads. Logical extents are below 2^32.
 */
const CHUNK_SHIFT = 12;
const CHUNK_ENTRIES = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_ENTRIES - 1;

export class PoolExtentMap {
  // Entries hold pool extent + 1; zero means unmapped.
  private readonly chunks: (Uint32Array | undefined)[] = [];
  private readonly counts: number[] = [];
  private mapped = 0;
  /** Run starts: mapped l whose l-1 is not mapped to the pool extent just before l's. */
  private starts = 0;

  /** Number of mapped logical extents. */
  get size(): number { return this.mapped; }

  /** Number of runs (what forEachRun visits), kept as the map changes: O(1). */
  get runs(): number { return this.starts; }

  private isStart(l: number): number {
    const p = this.get(l);
    if (p < 0) return 0;
    return l > 0 && p > 0 && this.get(l - 1) === p - 1 ? 0 : 1;
  }

  /** The pool extent behind logical extent `l`, or -1. */
  get(l: number): number {
    const c = this.chunks[l >>> CHUNK_SHIFT];
    return c === undefined ? -1 : c[l & CHUNK_MASK] - 1;
  }

  set(l: number, p: number): void {
    const before = this.isStart(l) + this.isStart(l + 1);
    this.put(l, p);
    this.starts += this.isStart(l) + this.isStart(l + 1) - before;
  }

  private put(l: number, p: number): void {
    const ci = l >>> CHUNK_SHIFT;
    let c = this.chunks[ci];
    if (c === undefined) {
      c = new Uint32Array(CHUNK_ENTRIES);
      this.chunks[ci] = c;
      this.counts[ci] = 0;
    }
    const i = l & CHUNK_MASK;
    if (c[i] === 0) { this.counts[ci]++; this.mapped++; }
    c[i] = p + 1;
  }

  /** Unmaps `l`; returns the pool extent it held, or -1. */
  delete(l: number): number {
    const before = this.isStart(l) + this.isStart(l + 1);
    const p = this.remove(l);
    if (p >= 0) this.starts += this.isStart(l) + this.isStart(l + 1) - before;
    return p;
  }

  private remove(l: number): number {
    const ci = l >>> CHUNK_SHIFT;
    const c = this.chunks[ci];
    if (c === undefined) return -1;
    const i = l & CHUNK_MASK;
    const p = c[i] - 1;
    if (p < 0) return -1;
    c[i] = 0;
    this.mapped--;
    if (--this.counts[ci] === 0) this.chunks[ci] = undefined;
    return p;
  }

  /** Becomes a copy of `src` (this map must be empty): chunk by chunk, no per-entry work. */
  copyFrom(src: PoolExtentMap): void {
    if (this.mapped !== 0) throw new Error('copy into a non-empty extent map');
    src.chunks.forEach((c, i) => {
      if (c === undefined) return;
      this.chunks[i] = c.slice();
      this.counts[i] = src.counts[i];
    });
    this.mapped = src.mapped;
    this.starts = src.starts;
  }

  /** Adds `delta` to `counts[p]` for every pool extent p the map holds (a tight loop, no callbacks). */
  countInto(counts: Uint32Array, delta: 1 | -1): void {
    for (const c of this.chunks) {
      if (c === undefined) continue;
      for (let i = 0; i < CHUNK_ENTRIES; i++) if (c[i] !== 0) counts[c[i] - 1] += delta;
    }
  }

  /** Unmaps everything. */
  clear(): void {
    this.chunks.length = 0;
    this.counts.length = 0;
    this.mapped = 0;
    this.starts = 0;
  }

  /** Calls `fn` for each mapped extent in [from, to), in order, skipping empty chunks. */
  forEachMapped(from: number, to: number, fn: (l: number, p: number) => void): void {
    let l = from;
    while (l < to) {
      const ci = l >>> CHUNK_SHIFT;
      const c = this.chunks[ci];
      const chunkEnd = Math.min(to, (ci + 1) * CHUNK_ENTRIES);
      if (c !== undefined) {
        for (; l < chunkEnd; l++) {
          const v = c[l & CHUNK_MASK];
          if (v !== 0) fn(l, v - 1);
        }
      }
      l = chunkEnd;
    }
  }

  /**
   * From `from` (below `to`), how many extents share `from`'s mapped state, looking at
   * most `limit` extents. Empty chunks are skipped whole.
   */
  runLength(from: number, to: number, limit: number): { mapped: boolean; count: number } {
    const mapped = this.get(from) >= 0;
    const end = Math.min(to, from + limit);
    let l = from;
    while (l < end) {
      const ci = l >>> CHUNK_SHIFT;
      const c = this.chunks[ci];
      const chunkEnd = Math.min(end, (ci + 1) * CHUNK_ENTRIES);
      if (c === undefined) {
        if (mapped) break;
        l = chunkEnd;
        continue;
      }
      while (l < chunkEnd && (c[l & CHUNK_MASK] !== 0) === mapped) l++;
      if (l < chunkEnd) break;
    }
    return { mapped, count: Math.min(l, end) - from };
  }

  /** Maximal runs where consecutive logical extents map to consecutive pool extents. */
  forEachRun(fn: (l: number, p: number, count: number) => void): void {
    let runL = -1;
    let runP = -1;
    let runN = 0;
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci];
      if (c === undefined) continue;
      const base = ci * CHUNK_ENTRIES;
      for (let i = 0; i < CHUNK_ENTRIES; i++) {
        const v = c[i];
        if (v === 0) continue;
        const l = base + i;
        const p = v - 1;
        if (runN > 0 && l === runL + runN && p === runP + runN) { runN++; continue; }
        if (runN > 0) fn(runL, runP, runN);
        runL = l; runP = p; runN = 1;
      }
    }
    if (runN > 0) fn(runL, runP, runN);
  }
}
