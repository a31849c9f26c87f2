import type { WriteIntentMap } from './write_intent_map.ts';

/**
 * What a rebuild still has to copy, as a cursor over a live write-intent map. A run of
 * regions is claimed (their marks taken, as block extents) before it is copied; a write
 * the target then misses marks it again (and the target is retired anyway), a failed
 * copy puts the extents back. The cursor wraps once it reaches the end, so regions
 * marked behind it are not missed: the rebuild is done only when a claim finds the map
 * empty. Pure bookkeeping.
 */
export class RebuildMap {
  readonly intents: WriteIntentMap;
  private cursor = 0;
  /** Blocks to copy as known so far: grows if regions are marked again. */
  private blocksPlanned: number;
  private blocksFinished = 0;
  /** Regions the last claimRun took. */
  claimedRun = 0;
  /**
   * What the last claimRun took, as flat (lba, count) pairs in order, adjacent runs
   * merged: whole regions for coarse marks, the dirty grains of partly-written ones.
   */
  claimed: number[] = [];

  constructor(intents: WriteIntentMap) {
    this.intents = intents;
    this.blocksPlanned = intents.dirtyBlocks();
  }

  /**
   * Claims the next dirty region and up to `maxRegions - 1` dirty regions right after
   * it, so a rebuild copies long contiguous spans with few locks and round trips.
   * Returns the first region (or -1 when none is left); `claimedRun` tells how many,
   * `claimed` what to copy in them.
   */
  claimRun(maxRegions: number): number {
    const intents = this.intents;
    let first = intents.nextDirty(this.cursor);
    if (first < 0 && this.cursor > 0) first = intents.nextDirty(0);
    if (first < 0) return -1;
    const out: number[] = [];
    let n = 0;
    do {
      intents.extentsOf(first + n, out);
      intents.clearRegion(first + n);
      n++;
    } while (n < maxRegions && first + n < intents.regionCount && intents.isDirty(first + n));
    this.cursor = first + n;
    this.claimedRun = n;
    this.claimed = out;
    return first;
  }

  /** Claimed extents were copied. */
  finished(extents: readonly number[]): void {
    for (let k = 1; k < extents.length; k += 2) this.blocksFinished += extents[k];
    if (this.blocksFinished > this.blocksPlanned) this.blocksPlanned = this.blocksFinished + this.intents.dirtyBlocks();
  }

  /** Claimed extents could not be copied: they are dirty again. */
  abandoned(extents: readonly number[]): void {
    for (let k = 0; k < extents.length; k += 2) this.intents.mark(extents[k], extents[k + 1]);
  }

  get done(): boolean { return this.intents.dirtyRegions === 0; }
  get blocksDone(): number { return this.blocksFinished; }
  get blocksTotal(): number { return Math.max(this.blocksPlanned, this.blocksFinished + this.intents.dirtyBlocks()); }
}
