/**
 * Reusable buffers for the data of large SCSI transfers: write data gathered from
 * Data-Out, and read data sent as Data-In. A fresh 1 MiB ArrayBuffer per command is
 * external memory V8 counts towards its next full collection; at several hundred MB/s
 * that made the collector most of the engine's CPU time (docs/performance.md).
 *
 * Ownership is explicit: `acquire` lends a buffer; `release` takes it back, once. A
 * buffer is on a free list only between a release and the next acquire, so the pool
 * never hands out a buffer someone else still holds, and a second release (or the
 * release of a buffer that did not come from here) is ignored. A lent buffer that is
 * never released is simply collected: the pool keeps no strong reference to it.
 * Whoever releases must know nobody reads or writes the buffer any more; the data
 * path does that only after the target has said the device is done with it
 * (ScsiTarget.dataOutReusable), or for read data once the socket has sent it.
 */

/** Smaller transfers are not pooled (Node's own allocator is cheap for them). */
export const IO_POOL_MIN_BYTES = 16 * 1024;
/** Larger transfers are not pooled (rare; keeping them would pin a lot of memory). */
export const IO_POOL_MAX_BYTES = 4 * 1024 * 1024;
/** Free buffers kept at most, in bytes, over all size classes. */
export const IO_POOL_FREE_BYTES = 32 * 1024 * 1024;

const MIN_SHIFT = 31 - Math.clz32(IO_POOL_MIN_BYTES);

/** The size class (index) for `len` bytes: the smallest power of two >= len, from the minimum up. */
function classOf(len: number): number {
  return Math.max(0, 32 - Math.clz32(len - 1) - MIN_SHIFT);
}

export class IoBufferPool {
  private readonly free: ArrayBuffer[][] = [];
  private readonly lent = new WeakSet<ArrayBuffer>();
  private readonly maxFreeBytes: number;
  private freeBytes = 0;
  /** Counters for tests and diagnostics. */
  reused = 0;
  allocated = 0;

  constructor(maxFreeBytes = IO_POOL_FREE_BYTES) {
    this.maxFreeBytes = maxFreeBytes;
    for (let c = 0; c <= classOf(IO_POOL_MAX_BYTES); c++) this.free.push([]);
  }

  /** True when buffers of `len` bytes come from (and may go back to) the pool. */
  pools(len: number): boolean {
    return len >= IO_POOL_MIN_BYTES && len <= IO_POOL_MAX_BYTES;
  }

  /** An uninitialised buffer of exactly `len` bytes; pooled when `pools(len)`. */
  acquire(len: number): Buffer {
    if (!this.pools(len)) return Buffer.allocUnsafe(len);
    const c = classOf(len);
    let ab = this.free[c].pop();
    if (ab !== undefined) {
      this.freeBytes -= ab.byteLength;
      this.reused++;
    } else {
      ab = Buffer.allocUnsafeSlow(IO_POOL_MIN_BYTES << c).buffer as ArrayBuffer;
      this.allocated++;
    }
    this.lent.add(ab);
    return Buffer.from(ab, 0, len);
  }

  /**
   * Takes back a buffer `acquire` lent (any view of it). The caller promises that
   * nothing touches it any more. Anything else, and a second release, is ignored.
   */
  release(buf: Buffer): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.lent.delete(ab)) return;
    if (this.freeBytes + ab.byteLength > this.maxFreeBytes) return;
    this.freeBytes += ab.byteLength;
    this.free[classOf(ab.byteLength)].push(ab);
  }

  /** Bytes held on the free lists (for tests). */
  get idleBytes(): number { return this.freeBytes; }
}

/** The engine's one pool, shared by all sessions and both directions. */
export const ioBuffers = new IoBufferPool();
