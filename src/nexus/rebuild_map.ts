import type { WriteIntentMap } from './write_intent_map.ts';

/**
 * What a rebuild still has to copy, as a cursor over a live write-intent map. A region
 * is claimed (its bit cleared) before it is copied; a write the target then misses
 * marks it again (and the target is retired anyway), a failed copy puts it back. The
 * cursor wraps once it reaches the end, so regions marked behind it are not missed:
 * the rebuild is done only when a claim finds the map empty. Pure bookkeeping.
 */
export class RebuildMap {
  readonly intents: WriteIntentMap;
  private cursor = 0;
  /** Blocks to copy as known so far: grows if regions are marked again. */
  private blocksPlanned: number;
  private blocksFinished = 0;
  /** Regions the last claimRun took. */
  claimedRun = 0;

  constructor(intents: WriteIntentMap) {
    this.intents = intents;
    this.blocksPlanned = intents.dirtyBlocks();
  }

  /** Claims the next dirty region (or -1 when none is left) and clears its bit. */
  claim(): number {
    let r = this.intents.nextDirty(this.cursor);
    if (r < 0 && this.cursor > 0) r = this.intents.nextDirty(0);
    if (r < 0) return -1;
    this.intents.clearRegion(r);
    this.cursor = r + 1;
    return r;
  }

  /**
   * Claims the next dirty region and up to `maxRegions - 1` dirty regions right after
   * it, so a rebuild copies long contiguous spans with few locks and round trips.
   * Returns the first region (or -1 when none is left); `claimedRun` tells how many.
   */
  claimRun(maxRegions: number): number {
    const first = this.claim();
    if (first < 0) return -1;
    let n = 1;
    const intents = this.intents;
    while (n < maxRegions && first + n < intents.regionCount && intents.isDirty(first + n)) {
      intents.clearRegion(first + n);
      n++;
    }
    this.cursor = first + n;
    this.claimedRun = n;
    return first;
  }

  /** A claimed region was copied. */
  finished(r: number): void {
    this.blocksFinished += this.intents.regionLength(r);
    if (this.blocksFinished > this.blocksPlanned) this.blocksPlanned = this.blocksFinished + this.intents.dirtyBlocks();
  }

  /** A claimed region could not be copied: it is dirty again. */
  abandoned(r: number): void {
    this.intents.markRegion(r);
  }

  get done(): boolean { return this.intents.dirtyRegions === 0; }
  get blocksDone(): number { return this.blocksFinished; }
  get blocksTotal(): number { return Math.max(this.blocksPlanned, this.blocksFinished + this.intents.dirtyBlocks()); }
}
