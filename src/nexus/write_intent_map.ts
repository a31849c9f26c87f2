/**
 * A bitmap of fixed-size regions of a volume that one child may be missing. The nexus
 * keeps one per child that is not in sync (faulted, stale, rebuilding, or removed but
 * expected back): every write or unmap that such a child did not acknowledge marks its
 * regions. A returning child is then resynced only for the marked regions, and the
 * rebuild clears a region as it claims it. Pure: no I/O, no timers.
 *
 * Cost per write is O(regions the write spans); finding the next dirty region skips
 * clean 32-region words at once.
 */
export class WriteIntentMap {
  readonly blockCount: number;
  readonly regionBlocks: number;
  readonly regionCount: number;
  private readonly bits: Uint32Array;
  private dirty = 0;

  constructor(blockCount: number, regionBlocks: number) {
    if (!Number.isInteger(regionBlocks) || regionBlocks < 1) throw new RangeError('regionBlocks must be a positive integer');
    this.blockCount = blockCount;
    this.regionBlocks = regionBlocks;
    this.regionCount = Math.ceil(blockCount / regionBlocks);
    this.bits = new Uint32Array(Math.ceil(this.regionCount / 32));
  }

  /** Regions marked and not yet claimed. */
  get dirtyRegions(): number { return this.dirty; }

  /** Marks every region that blocks [lba, lba+count) touch. */
  mark(lba: number, count: number): void {
    if (count <= 0) return;
    const first = Math.floor(lba / this.regionBlocks);
    const last = Math.min(Math.floor((lba + count - 1) / this.regionBlocks), this.regionCount - 1);
    for (let r = first; r <= last; r++) this.markRegion(r);
  }

  markAll(): void {
    for (let r = 0; r < this.regionCount; r++) this.markRegion(r);
  }

  markRegion(r: number): void {
    const word = r >>> 5;
    const bit = 1 << (r & 31);
    if ((this.bits[word] & bit) === 0) {
      this.bits[word] |= bit;
      this.dirty++;
    }
  }

  clearRegion(r: number): void {
    const word = r >>> 5;
    const bit = 1 << (r & 31);
    if ((this.bits[word] & bit) !== 0) {
      this.bits[word] &= ~bit;
      this.dirty--;
    }
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

  /** Blocks covered by dirty regions (exact, the short last region included). */
  dirtyBlocks(): number {
    let blocks = this.dirty * this.regionBlocks;
    const last = this.regionCount - 1;
    if (last >= 0 && this.isDirty(last)) blocks -= this.regionBlocks - this.regionLength(last);
    return blocks;
  }

  /** Copies all marks of `other` (same geometry) into this map. */
  merge(other: WriteIntentMap): void {
    for (let r = other.nextDirty(0); r >= 0; r = other.nextDirty(r + 1)) this.markRegion(r);
  }

  /** The bitmap as bytes (region r is bit r%8 of byte r/8), for the engine to persist. */
  toBuffer(): Buffer {
    const out = Buffer.alloc(Math.ceil(this.regionCount / 8));
    for (let r = this.nextDirty(0); r >= 0; r = this.nextDirty(r + 1)) out[r >>> 3] |= 1 << (r & 7);
    return out;
  }

  static fromBuffer(blockCount: number, regionBlocks: number, bytes: Buffer): WriteIntentMap {
    const m = new WriteIntentMap(blockCount, regionBlocks);
    if (bytes.length !== Math.ceil(m.regionCount / 8)) throw new RangeError('write-intent map size does not match the volume geometry');
    for (let r = 0; r < m.regionCount; r++) {
      if ((bytes[r >>> 3] & (1 << (r & 7))) !== 0) m.markRegion(r);
    }
    return m;
  }
}
