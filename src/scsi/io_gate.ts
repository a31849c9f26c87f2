/**
 * Counts operations in flight by epoch, so one operation can wait for everything that
 * started before it without tracking each operation: O(1) per enter/leave.
 * Used for ordered tasks (wait for all earlier commands) and for COMPARE AND WRITE
 * (wait for earlier writes).
 */
export class EpochGate {
  #epoch = 0;
  readonly #counts = new Map<number, number>();
  #waiters: { epoch: number; resolve: () => void }[] = [];

  enter(): number {
    const e = this.#epoch;
    this.#counts.set(e, (this.#counts.get(e) ?? 0) + 1);
    return e;
  }

  leave(epoch: number): void {
    const n = (this.#counts.get(epoch) ?? 1) - 1;
    if (n > 0) { this.#counts.set(epoch, n); return; }
    this.#counts.delete(epoch);
    if (this.#waiters.length > 0) this.#wake();
  }

  /** Resolves once every operation that entered before this call has left. */
  drain(): Promise<void> {
    const epoch = this.#epoch++;
    if (!this.#busyUpTo(epoch)) return Promise.resolve();
    return new Promise((resolve) => { this.#waiters.push({ epoch, resolve }); });
  }

  #busyUpTo(epoch: number): boolean {
    for (const e of this.#counts.keys()) if (e <= epoch) return true;
    return false;
  }

  #wake(): void {
    const still: { epoch: number; resolve: () => void }[] = [];
    for (const w of this.#waiters) {
      if (this.#busyUpTo(w.epoch)) still.push(w); else w.resolve();
    }
    this.#waiters = still;
  }
}

interface HeldRange { lba: number; end: number; done: Promise<void>; release: () => void }

/**
 * Exclusive block ranges for operations that must be atomic against other writes
 * (COMPARE AND WRITE, WRITE ATOMIC, ORWRITE). Plain writes only look here when
 * `active` is true, which is rare, so the hot path pays one boolean test.
 */
export class RangeLocks {
  #held: HeldRange[] = [];

  get active(): boolean { return this.#held.length > 0; }

  /** Resolves when no exclusive holder overlaps `[lba, lba + count)`. */
  async waitClear(lba: number, count: number): Promise<void> {
    for (;;) {
      const h = this.#overlap(lba, lba + Math.max(count, 1));
      if (!h) return;
      await h.done;
    }
  }

  /** Takes `[lba, lba + count)` exclusively; call the returned function to release it. */
  async acquire(lba: number, count: number): Promise<() => void> {
    const end = lba + Math.max(count, 1);
    // Check and take in one synchronous step: an await in between would let a rival in.
    for (let h = this.#overlap(lba, end); h; h = this.#overlap(lba, end)) await h.done;
    let release!: () => void;
    const done = new Promise<void>((resolve) => { release = resolve; });
    const held: HeldRange = { lba, end, done, release };
    this.#held.push(held);
    return () => {
      this.#held = this.#held.filter((h) => h !== held);
      held.release();
    };
  }

  #overlap(lba: number, end: number): HeldRange | undefined {
    return this.#held.find((h) => h.lba < end && lba < h.end);
  }
}
