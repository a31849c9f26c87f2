/** Reassembled payloads at least this large are recycled; smaller ones cost little to allocate. */
export const REPLICA_PAYLOAD_POOL_MIN_BYTES = 256 * 1024;
/** Buffers kept per session: enough for the writes a rebuild keeps in flight. */
export const REPLICA_PAYLOAD_POOL_MAX_BUFFERS = 16;

/**
 * Large WRITE payloads for one replica session, reused once the device has finished with
 * them. A rebuild streams 1 MiB frames that arrive in 64 KiB socket reads, so each frame
 * is assembled into a buffer of its own; allocating a fresh one per frame makes the
 * garbage collector run a full collection every few dozen MiB (external memory
 * pressure), which was a large part of the replica engine's CPU during a rebuild.
 * Only buffers this pool handed out are taken back, and only after the device's write
 * settled: a BlockDevice does not keep the caller's buffer once the write resolves.
 */
export class ReplicaPayloadPool {
  private readonly free: Buffer[] = [];
  private readonly mine = new WeakSet<Buffer>();

  /** A buffer of exactly `len` bytes, uninitialised. */
  take(len: number): Buffer {
    if (len >= REPLICA_PAYLOAD_POOL_MIN_BYTES) {
      const free = this.free;
      for (let i = free.length - 1; i >= 0; i--) {
        if (free[i].length === len) {
          const b = free[i];
          free[i] = free[free.length - 1];
          free.pop();
          return b;
        }
      }
      const b = Buffer.allocUnsafeSlow(len);
      this.mine.add(b);
      return b;
    }
    return Buffer.allocUnsafe(len);
  }

  /** The device is done with `buf`: keep it for the next frame if it is ours and there is room. */
  give(buf: Buffer): void {
    if (!this.mine.has(buf)) return;
    if (this.free.length < REPLICA_PAYLOAD_POOL_MAX_BUFFERS) this.free.push(buf);
    else this.mine.delete(buf);
  }
}
