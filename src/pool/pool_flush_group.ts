/**
 * Group commit for an initiator's flushes (SYNCHRONIZE CACHE, FUA) on one pool file.
 * Pure sequencing: the fdatasync itself is passed in, and the pool file tells the group
 * when one of its writes completes.
 *
 * A flush must make durable every write that completed before the flush arrived. An
 * fdatasync covers the writes that completed before it started (later ones may or may
 * not be in it). So, counting completed writes:
 * - a flush that arrives when no write has completed since the start of the last
 *   successful fdatasync is already served: it resolves without a sync;
 * - one that arrives while an fdatasync runs joins it only when no write has completed
 *   since that one started, else it waits for the next, which starts when the running
 *   one ends and serves every flush that queued meanwhile.
 * A failed fdatasync fails every flush from then on, not only the ones it served. Linux
 * reports a writeback error to an fdatasync once and marks the pages that failed clean
 * (their data may be gone from the device while the cache still reads it back), so a
 * later fdatasync can succeed without the lost writes: a flush it answered would be a
 * lie. The pool must be imported again (which reads the device) to be trusted.
 *
 * A round may also start with no flush waiting (`anticipate`): when a volume's writes are
 * each followed by a flush (a database's commits), its pool starts the fdatasync as the
 * write completes, and the flush that follows a round trip later finds it running or done.
 *
 * A caller that only needs its own writes durable (a volume sharing the pool file) passes
 * the count as it was when its latest write completed: a flush on a volume that has not
 * written since the last sync began costs nothing, whatever the other volumes wrote.
 *
 * Pool-internal syncs (journal, format changes, erase-before-unmap) may follow changes
 * made outside the counted writes (fallocate, punch, ftruncate), so they ask for a
 * fresh fdatasync: never skipped, never joining one that is already running.
 */

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Round {
  /** `completed` when this round's fdatasync started. */
  covers: number;
  waiters: Waiter[];
}

export class FlushGroup {
  /**
   * Writes to the pool file that have completed (successfully or not). It starts at 1:
   * a file just opened may hold dirty pages of a process that died, so the first flush
   * syncs unless a fresh sync has run since.
   */
  private completed = 1;
  /** `completed` as it was when the last successful fdatasync started. */
  private synced = 0;
  private running: Round | null = null;
  private queued: Waiter[] = [];
  /** The first failed fdatasync's error: every flush from then on rejects with it. */
  private failure: unknown = null;
  private readonly sync: (done: (err: unknown) => void) => void;
  private readonly afterFailure: (err: unknown) => unknown;

  /**
   * `sync` runs an fdatasync and calls `done` once with null or the error. The flushes a
   * failed one served reject with its error; every later one with `afterFailure(err)`.
   */
  constructor(sync: (done: (err: unknown) => void) => void, afterFailure: (err: unknown) => unknown = (err) => err) {
    this.sync = sync;
    this.afterFailure = afterFailure;
  }

  /** A write to the file completed: call before the write's caller learns of it. */
  writeCompleted(): void {
    this.completed++;
  }

  /** The completed-write count now: a caller's mark for a later `flush(upTo)`. */
  get writesCompleted(): number {
    return this.completed;
  }

  /** True when every completed write is covered by a finished fdatasync. */
  get clean(): boolean {
    return this.completed === this.synced;
  }

  /** What flushes reject with since the first failed fdatasync, or null. */
  get failed(): unknown {
    return this.failure;
  }

  /** Resolves once the first `upTo` completed writes (default: all so far) are durable. */
  flush(upTo = this.completed): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (upTo <= this.synced) return Promise.resolve();
    return this.wait(upTo);
  }

  /** An fdatasync that starts after this call, for changes the group does not count. */
  fresh(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return this.wait(Infinity);
  }

  /**
   * Starts an fdatasync now that no flush waits for yet, if none runs and some completed
   * write is not covered: a flush expected soon will find it running (and join it if no
   * write completed since) or finished. True when one started.
   */
  anticipate(): boolean {
    if (this.running !== null || this.failure !== null || this.completed === this.synced) return false;
    this.start([]);
    return true;
  }

  private wait(upTo: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      const r = this.running;
      if (r === null) this.start([w]);
      else if (upTo <= r.covers) r.waiters.push(w);
      else this.queued.push(w);
    });
  }

  private start(waiters: Waiter[]): void {
    const round: Round = { covers: this.completed, waiters };
    this.running = round;
    this.sync((err) => this.finish(round, err));
  }

  private finish(round: Round, err: unknown): void {
    this.running = null;
    if (err) this.failure ??= this.afterFailure(err);
    else if (round.covers > this.synced) this.synced = round.covers;
    const next = this.queued;
    this.queued = [];
    // Queued flushes saw a write complete after the finished round began: they need a
    // round that starts now, unless a failure already answers them.
    if (next.length > 0) {
      if (this.failure === null) this.start(next);
      else for (const w of next) w.reject(this.failure);
    }
    for (const w of round.waiters) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }
}
