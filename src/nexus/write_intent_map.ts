/**
 * What one child may be missing, in two levels. The nexus keeps one per child that is
 * not in sync (faulted, stale, rebuilding, or removed but expected back): every write or
 * unmap that such a child did not acknowledge is marked, and a returning child is
 * resynced only for what is marked. Pure: no I/O, no timers.
 *
 * - Coarse: one bit per region (1 MiB by default): the region holds something dirty.
 * - Fine: a region written only in part gets a bitmap of grains (4 KiB by default), so
 *   small random writes cost a resync of about what was written, not of whole regions.
 *   A region whose grains all become dirty (or that a write covers whole) drops its
 *   bitmap and is simply dirty as a whole.
 *
 * Memory is bounded: the grain bitmaps of one map take at most `fineBytesMax`. When a
 * new partly-written region finds the budget spent it is tracked whole instead
 * (`coarsened` counts them): the resync then copies more, never less.
 *
 * Cost per write is O(regions + grain words the write spans); finding the next dirty
 * region skips clean 32-region words at once.
 */
export const WRITE_INTENT_FINE_BYTES_MAX = 4 * 1024 * 1024;
/** What one grain bitmap costs beyond its words (its Map entry and slot bookkeeping), counted against the budget. */
const SLOT_OVERHEAD_BYTES = 64;

export interface WriteIntentMapOptions {
  /** Blocks per fine grain; at or above regionBlocks (the default) the map stays coarse. */
  grainBlocks?: number;
  /** Bytes the grain bitmaps may use; default WRITE_INTENT_FINE_BYTES_MAX. */
  fineBytesMax?: number;
}

export class WriteIntentMap {
  readonly blockCount: number;
  readonly regionBlocks: number;
  readonly regionCount: number;
  /** Blocks per grain; equal to regionBlocks when the map keeps no grains. */
  readonly grainBlocks: number;
  private readonly bits: Uint32Array;
  private dirty = 0;
  private blocks = 0;
  /** Grain bitmaps: region -> slot; a dirty region without a slot is dirty whole. */
  private readonly fine = new Map<number, number>();
  private readonly words: number;
  private readonly maxSlots: number;
  private slab: Uint32Array;
  /** Grains set per slot, so a write never counts a region's whole bitmap. */
  private counts: Uint32Array;
  private readonly freeSlots: number[] = [];
  private slotsUsed = 0;
  private overflowed = 0;

  constructor(blockCount: number, regionBlocks: number, opts: WriteIntentMapOptions = {}) {
    if (!Number.isInteger(regionBlocks) || regionBlocks < 1) throw new RangeError('regionBlocks must be a positive integer');
    const grain = opts.grainBlocks ?? regionBlocks;
    if (!Number.isInteger(grain) || grain < 1) throw new RangeError('grainBlocks must be a positive integer');
    this.blockCount = blockCount;
    this.regionBlocks = regionBlocks;
    this.regionCount = Math.ceil(blockCount / regionBlocks);
    this.bits = new Uint32Array(Math.ceil(this.regionCount / 32));
    this.grainBlocks = Math.min(grain, regionBlocks);
    const grains = Math.ceil(regionBlocks / this.grainBlocks);
    this.words = Math.ceil(grains / 32);
    this.maxSlots = grains < 2 ? 0 : Math.floor((opts.fineBytesMax ?? WRITE_INTENT_FINE_BYTES_MAX) / (this.words * 4 + SLOT_OVERHEAD_BYTES));
    this.slab = new Uint32Array(0);
    this.counts = new Uint32Array(0);
  }

  /** A map of the same geometry (grain and budget included) with nothing marked. */
  emptyLike(): WriteIntentMap {
    return new WriteIntentMap(this.blockCount, this.regionBlocks, { grainBlocks: this.grainBlocks, fineBytesMax: this.maxSlots * (this.words * 4 + SLOT_OVERHEAD_BYTES) });
  }

  /** Regions marked (whole or in part) and not yet claimed. */
  get dirtyRegions(): number { return this.dirty; }

  /** Partly-written regions tracked whole because the grain budget was spent. */
  get coarsened(): number { return this.overflowed; }

  /** Regions tracked by grains right now. */
  get fineRegions(): number { return this.fine.size; }

  /** Marks every grain (or region) that blocks [lba, lba+count) touch. */
  mark(lba: number, count: number): void {
    if (count <= 0) return;
    const end = Math.min(lba + count, this.blockCount);
    const rb = this.regionBlocks;
    const first = Math.floor(lba / rb);
    const last = Math.min(Math.floor((end - 1) / rb), this.regionCount - 1);
    for (let r = first; r <= last; r++) {
      const start = r * rb;
      const len = this.regionLength(r);
      const a = Math.max(lba, start) - start;
      const b = Math.min(end, start + len) - start;
      if (this.maxSlots === 0 || (a === 0 && b >= len)) this.markRegion(r);
      else this.markGrains(r, a, b);
    }
  }

  markAll(): void {
    for (let r = 0; r < this.regionCount; r++) this.markRegion(r);
  }

  /** Marks region `r` dirty as a whole. */
  markRegion(r: number): void {
    if (!this.isDirty(r)) {
      this.bits[r >>> 5] |= 1 << (r & 31);
      this.dirty++;
      this.blocks += this.regionLength(r);
      return;
    }
    const slot = this.fine.get(r);
    if (slot !== undefined) {
      this.blocks += this.regionLength(r) - this.slotBlocks(r, slot);
      this.freeSlot(r, slot);
    }
  }

  /** Forgets everything marked in region `r`. */
  clearRegion(r: number): void {
    if (!this.isDirty(r)) return;
    const slot = this.fine.get(r);
    this.blocks -= slot === undefined ? this.regionLength(r) : this.slotBlocks(r, slot);
    if (slot !== undefined) this.freeSlot(r, slot);
    this.bits[r >>> 5] &= ~(1 << (r & 31));
    this.dirty--;
  }

  isDirty(r: number): boolean {
    return (this.bits[r >>> 5] & (1 << (r & 31))) !== 0;
  }

  /** The first dirty region at or after `from`, or -1. */
  nextDirty(from: number): number {
    if (this.dirty === 0) return -1;
    for (let word = from >>> 5; word < this.bits.length; word++) {
      let w = this.bits[word];
      if (word === from >>> 5) w &= ~((1 << (from & 31)) - 1);
      if (w === 0) continue;
      const r = (word << 5) + (31 - Math.clz32(w & -w));
      return r < this.regionCount ? r : -1;
    }
    return -1;
  }

  /** First block and block count of region `r` (the last region may be short). */
  regionStart(r: number): number { return r * this.regionBlocks; }
  regionLength(r: number): number { return Math.min(this.regionBlocks, this.blockCount - r * this.regionBlocks); }

  /** Blocks marked (exact: whole regions, plus the grains of partly-written ones). */
  dirtyBlocks(): number { return this.blocks; }

  /**
   * Appends the dirty runs of region `r` to `out` as flat (lba, count) pairs, a run
   * that starts where the previous pair ends extending it; returns the blocks added.
   */
  extentsOf(r: number, out: number[]): number {
    if (!this.isDirty(r)) return 0;
    const start = this.regionStart(r);
    const len = this.regionLength(r);
    const slot = this.fine.get(r);
    if (slot === undefined) {
      pushExtent(out, start, len);
      return len;
    }
    const base = slot * this.words;
    const g = this.grainBlocks;
    let added = 0;
    for (let i = 0; i * g < len;) {
      if ((i & 31) === 0 && this.slab[base + (i >>> 5)] === 0) { i += 32; continue; }
      if ((this.slab[base + (i >>> 5)] & (1 << (i & 31))) === 0) { i++; continue; }
      let j = i + 1;
      while (j * g < len && (this.slab[base + (j >>> 5)] & (1 << (j & 31))) !== 0) j++;
      const from = start + i * g;
      const to = Math.min(start + j * g, start + len);
      pushExtent(out, from, to - from);
      added += to - from;
      i = j;
    }
    return added;
  }

  /** Copies all marks of `other` (same region geometry) into this map. */
  merge(other: WriteIntentMap): void {
    const runs: number[] = [];
    for (let r = other.nextDirty(0); r >= 0; r = other.nextDirty(r + 1)) {
      runs.length = 0;
      other.extentsOf(r, runs);
      for (let k = 0; k < runs.length; k += 2) this.mark(runs[k], runs[k + 1]);
    }
  }

  /**
   * The coarse bitmap as bytes (region r is bit r%8 of byte r/8), for the engine to
   * persist. Grains are not saved: a partly-written region loads back as dirty whole,
   * which copies more on resync but never misses a write.
   */
  toBuffer(): Buffer {
    const out = Buffer.alloc(Math.ceil(this.regionCount / 8));
    for (let r = this.nextDirty(0); r >= 0; r = this.nextDirty(r + 1)) out[r >>> 3] |= 1 << (r & 7);
    return out;
  }

  static fromBuffer(blockCount: number, regionBlocks: number, bytes: Buffer, opts: WriteIntentMapOptions = {}): WriteIntentMap {
    const m = new WriteIntentMap(blockCount, regionBlocks, opts);
    if (bytes.length !== Math.ceil(m.regionCount / 8)) throw new RangeError('write-intent map size does not match the volume geometry');
    for (let r = 0; r < m.regionCount; r++) {
      if ((bytes[r >>> 3] & (1 << (r & 7))) !== 0) m.markRegion(r);
    }
    return m;
  }

  /** Sets the grains of region `r` that blocks [a, b) of it touch (0 <= a < b <= length). */
  private markGrains(r: number, a: number, b: number): void {
    let slot = this.fine.get(r);
    if (slot === undefined) {
      if (this.isDirty(r)) return; // dirty whole already
      slot = this.allocSlot();
      if (slot < 0) {
        this.overflowed++;
        this.markRegion(r);
        return;
      }
      this.fine.set(r, slot);
      this.bits[r >>> 5] |= 1 << (r & 31);
      this.dirty++;
    }
    const g = this.grainBlocks;
    const len = this.regionLength(r);
    const lastGrain = Math.ceil(len / g) - 1;
    const g0 = Math.floor(a / g);
    const g1 = Math.floor((b - 1) / g);
    const base = slot * this.words;
    const lastWasSet = (this.slab[base + (lastGrain >>> 5)] & (1 << (lastGrain & 31))) !== 0;
    let added = 0;
    for (let i = g0; i <= g1;) {
      const lo = i & 31;
      const hi = Math.min(31, lo + (g1 - i));
      const mask = ((0xffffffff >>> (31 - hi)) & (0xffffffff << lo)) >>> 0;
      const w = base + (i >>> 5);
      added += popcount((mask & ~this.slab[w]) >>> 0);
      this.slab[w] |= mask;
      i += hi - lo + 1;
    }
    let blocks = added * g;
    if (g1 === lastGrain && !lastWasSet) blocks -= (lastGrain + 1) * g - len;
    this.blocks += blocks;
    this.counts[slot] += added;
    if (this.counts[slot] === lastGrain + 1) this.freeSlot(r, slot); // every grain dirty: whole
  }

  /** Blocks the grains set in `slot` cover within region `r`. */
  private slotBlocks(r: number, slot: number): number {
    const base = slot * this.words;
    const g = this.grainBlocks;
    const len = this.regionLength(r);
    const lastGrain = Math.ceil(len / g) - 1;
    let blocks = this.counts[slot] * g;
    if ((this.slab[base + (lastGrain >>> 5)] & (1 << (lastGrain & 31))) !== 0) blocks -= (lastGrain + 1) * g - len;
    return blocks;
  }

  private allocSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    if (this.slotsUsed >= this.maxSlots) return -1;
    const slot = this.slotsUsed++;
    if ((slot + 1) * this.words > this.slab.length) {
      const grown = new Uint32Array(Math.min(this.maxSlots, Math.max(16, slot * 2)) * this.words);
      grown.set(this.slab);
      this.slab = grown;
      const counts = new Uint32Array(grown.length / this.words);
      counts.set(this.counts);
      this.counts = counts;
    }
    return slot;
  }

  private freeSlot(r: number, slot: number): void {
    this.slab.fill(0, slot * this.words, (slot + 1) * this.words);
    this.counts[slot] = 0;
    this.fine.delete(r);
    this.freeSlots.push(slot);
  }
}

function pushExtent(out: number[], lba: number, count: number): void {
  const n = out.length;
  if (n >= 2 && out[n - 2] + out[n - 1] === lba) out[n - 1] += count;
  else out.push(lba, count);
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
