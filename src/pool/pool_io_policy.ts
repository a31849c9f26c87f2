/**
 * When the pool's positional I/O runs on the event loop (a synchronous pread/pwrite)
 * and when it goes to libuv's thread pool. Pure: the caller passes the clock in.
 *
 * A page-cache hit costs a couple of microseconds as a plain syscall but tens of
 * microseconds as a thread-pool round trip (queue, wake a worker, wake the loop), so
 * `auto` starts synchronous. A synchronous call that takes far longer than a memory
 * copy would means the kernel went to the device (cold read, dirty-page throttling):
 * the file then goes to the thread pool for a back-off period, so a slow device cannot
 * keep stalling the loop, and is probed synchronously again afterwards. Every slow
 * probe doubles the back-off, up to a ceiling; a fast period resets it.
 *
 * One slow call alone is not evidence: on a busy node the scheduler preempts the loop
 * in the middle of a page-cache copy every few milliseconds, and when each such call
 * sent the file to the thread pool, a loaded replica engine spent most of its time in
 * thread-pool hand-offs (futex and eventfd wake-ups per write) for nothing. Slow calls
 * therefore add to a score that fast calls drain; a device that really stalls produces
 * slow calls far faster than they drain, preemption does not. A call slower than
 * SLOW_SYNC_STALL_MS is a stall whatever the score.
 * See docs/performance.md.
 */

export const IoMode = { auto: 'auto', sync: 'sync', async: 'async' } as const;
export type IoMode = (typeof IoMode)[keyof typeof IoMode];

export const IO_MODES: readonly IoMode[] = [IoMode.auto, IoMode.sync, IoMode.async];

export function isIoMode(s: string): s is IoMode {
  return (IO_MODES as readonly string[]).includes(s);
}

/** A synchronous call slower than this (plus the copy allowance) counts as device I/O. */
export const SLOW_SYNC_BASE_MS = 0.2;
/** Copy allowance: tmpfs and the page cache move well over 1 GB/s even on a busy host. */
export const SLOW_SYNC_BYTES_PER_MS = 1_000_000;
/** The slow-call score at which the file goes to the thread pool (outside a back-off probe). */
export const SLOW_SCORE_LIMIT = 3;
/** What one fast call takes off the score: isolated slow calls rarer than 1 in 16 never add up. */
export const FAST_CALL_CREDIT = 1 / 16;
/** One synchronous call this slow is a device stall, not a preemption. */
export const SLOW_SYNC_STALL_MS = 20;
/** First back-off after a slow synchronous call, and the ceiling it doubles up to. */
export const BACKOFF_MIN_MS = 50;
export const BACKOFF_MAX_MS = 2000;
/** In auto mode, transfers of at least this many bytes always use the thread pool. */
export const DEFAULT_ASYNC_MIN_BYTES = 256 * 1024;

export interface IoPolicyOptions {
  mode: IoMode;
  /** auto: this size and above go to the thread pool (the loop keeps framing PDUs meanwhile). */
  asyncMinBytes?: number;
}

export class IoPolicy {
  readonly mode: IoMode;
  readonly asyncMinBytes: number;
  /** auto: until this time (ms, caller's clock) everything goes to the thread pool. */
  private asyncUntil = 0;
  private backoffMs = BACKOFF_MIN_MS;
  /** True once a back-off has started, until a synchronous call is fast again. */
  private probing = false;
  /** Slow calls seen lately, less FAST_CALL_CREDIT per fast one (never below 0). */
  private slowScore = 0;
  /** Counters for tests and diagnostics. */
  slowSyncCalls = 0;

  constructor(o: IoPolicyOptions) {
    this.mode = o.mode;
    this.asyncMinBytes = o.asyncMinBytes ?? DEFAULT_ASYNC_MIN_BYTES;
  }

  /** Whether a transfer of `len` bytes starting at time `now` should run synchronously. */
  useSync(len: number, now: number): boolean {
    if (this.mode !== IoMode.auto) return this.mode === IoMode.sync;
    return len < this.asyncMinBytes && now >= this.asyncUntil;
  }

  /** Reports how long a synchronous transfer took; may switch the file to the thread pool. */
  observeSync(len: number, startMs: number, endMs: number): void {
    if (this.mode !== IoMode.auto) return;
    const took = endMs - startMs;
    if (took <= SLOW_SYNC_BASE_MS + len / SLOW_SYNC_BYTES_PER_MS) {
      if (this.slowScore > 0) this.slowScore = Math.max(0, this.slowScore - FAST_CALL_CREDIT);
      if (this.probing) {
        this.probing = false;
        this.backoffMs = BACKOFF_MIN_MS;
      }
      return;
    }
    this.slowSyncCalls++;
    this.slowScore++;
    // A probe after a back-off answers one question: is the device still slow? One call says.
    if (!this.probing && this.slowScore < SLOW_SCORE_LIMIT && took < SLOW_SYNC_STALL_MS) return;
    this.slowScore = 0;
    if (this.probing) this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.probing = true;
    this.asyncUntil = endMs + this.backoffMs;
  }

  /** The current back-off, ms (for tests). */
  get backoff(): number { return this.backoffMs; }
}
