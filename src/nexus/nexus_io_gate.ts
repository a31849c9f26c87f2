/**
 * Keeps a rebuild's copy of a region and foreground writes to that region apart, the
 * one race that could leave a rebuilt child with old data (copy reads old data, a write
 * lands on both children, the copy then writes the old data over it).
 *
 * - A rebuild `lock`s a region: new writes to it wait, and writes already in flight
 *   anywhere finish first (an epoch counter, so the wait is O(1) per write and never
 *   starves under a steady stream of new writes).
 * - Foreground writes call `blocker` (undefined on the fast path: no rebuild running),
 *   then `enter` synchronously before dispatch and `leave` when done.
 * - `drain` waits for every write in flight now, without locking anything: used when a
 *   child joins, so that writes sent before it joined are all accounted for.
 */
export class NexusIoGate {
  private locks: Array<{ lba: number; end: number; released: Promise<void>; release: () => void }> = [];
  private epoch = 0;
  private current = 0;
  private older = 0;
  private drainWaiters: Array<() => void> = [];

  get locked(): boolean { return this.locks.length > 0; }

  /** A promise to wait on if [lba, lba+count) overlaps a locked region; check again after it. */
  blocker(lba: number, count: number): Promise<void> | undefined {
    const end = lba + count;
    for (const l of this.locks) if (lba < l.end && l.lba < end) return l.released;
    return undefined;
  }

  /** Counts a write in flight; returns its epoch for `leave`. */
  enter(): number {
    this.current++;
    return this.epoch;
  }

  leave(epoch: number): void {
    if (epoch === this.epoch) {
      this.current--;
      return;
    }
    this.older--;
    if (this.older === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once every write that entered before this call has left. */
  drain(): Promise<void> {
    this.epoch++;
    this.older += this.current;
    this.current = 0;
    if (this.older === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Locks a region for copying: waits for overlapping locks, then for older writes. */
  async lock(lba: number, count: number): Promise<void> {
    for (let b = this.blocker(lba, count); b; b = this.blocker(lba, count)) await b;
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    this.locks.push({ lba, end: lba + count, released, release });
    await this.drain();
  }

  unlock(lba: number): void {
    const i = this.locks.findIndex((l) => l.lba === lba);
    if (i < 0) return;
    const [l] = this.locks.splice(i, 1);
    l.release();
  }
}
