/**
 * Which pool extents are in use: a bitmap with a lowest-free hint. Pure bookkeeping:
 * it knows nothing about zeroing or the journal. Allocation is lowest-first, which keeps
 * the pool's zeroed high-water mark meaningful (everything at or above it is free).
 */
export class PoolAllocator {
  readonly extentCount: number;
  private readonly words: Uint32Array;
  private used = 0;
  private hint = 0;

  constructor(extentCount: number) {
    this.extentCount = extentCount;
    this.words = new Uint32Array(Math.ceil(extentCount / 32));
  }

  get usedCount(): number { return this.used; }
  get freeCount(): number { return this.extentCount - this.used; }

  isUsed(p: number): boolean {
    return (this.words[p >>> 5] & (1 << (p & 31))) !== 0;
  }

  /** Marks `p` used; returns false when it already was (a double owner at import). */
  markUsed(p: number): boolean {
    const w = p >>> 5;
    const bit = 1 << (p & 31);
    if ((this.words[w] & bit) !== 0) return false;
    this.words[w] |= bit;
    this.used++;
    return true;
  }

  free(p: number): void {
    const w = p >>> 5;
    const bit = 1 << (p & 31);
    if ((this.words[w] & bit) === 0) throw new Error(`extent ${p} freed twice`);
    this.words[w] &= ~bit;
    this.used--;
    if (p < this.hint) this.hint = p;
  }

  /** Takes up to `n` free extents, lowest first, marking them used. */
  take(n: number): number[] {
    const out: number[] = [];
    const words = this.words;
    let w = this.hint >>> 5;
    while (out.length < n && w < words.length) {
      const word = words[w];
      if (word === 0xffff_ffff) { w++; continue; }
      for (let b = 0; b < 32 && out.length < n; b++) {
        const p = w * 32 + b;
        if (p >= this.extentCount) break;
        if ((words[w] & (1 << b)) === 0) {
          words[w] |= 1 << b;
          this.used++;
          out.push(p);
        }
      }
      if (out.length < n) w++;
    }
    this.hint = out.length > 0 ? out[out.length - 1] + 1 : w * 32;
    return out;
  }
}

/** Groups ascending extents into [start, count] runs. */
export function toRuns(sorted: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const p of sorted) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === p) last[1]++;
    else runs.push([p, 1]);
  }
  return runs;
}
