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
    if (endMs - startMs <= SLOW_SYNC_BASE_MS + len / SLOW_SYNC_BYTES_PER_MS) {
      if (this.probing) {
        this.probing = false;
        this.backoffMs = BACKOFF_MIN_MS;
      }
      return;
    }
    this.slowSyncCalls++;
    if (this.probing) this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.probing = true;
    this.asyncUntil = endMs + this.backoffMs;
  }

  /** The current back-off, ms (for tests). */
  get backoff(): number { return this.backoffMs; }
}
