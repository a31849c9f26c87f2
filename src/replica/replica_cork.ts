import type { Socket } from 'node:net';
import { REPLICA_HEADER_LENGTH } from './replica_protocol.ts';
import { encodeHeaderInto } from './replica_codec.ts';

/**
 * When a held batch leaves.
 * - tick: once the current callback's ticks have run. Right for requests: a burst of
 *   initiator commands is dispatched within one callback, and waiting longer only adds
 *   latency.
 * - immediate: at the end of the event loop's poll phase. Right for replies: writes that
 *   finish on the thread pool complete one callback each, so a tick-long hold would send
 *   each reply alone (one send, one wakeup of the peer, per I/O); the check phase gathers
 *   every reply that became ready in this turn of the loop.
 */
export const CorkRelease = { TICK: 'tick', IMMEDIATE: 'immediate' } as const;
export type CorkReleaseName = (typeof CorkRelease)[keyof typeof CorkRelease];

/** Header-only frames are packed into slabs of this many bytes, one socket write per batch. */
const HEADER_SLAB_BYTES = 64 * REPLICA_HEADER_LENGTH;

/**
 * Holds a socket's writes back so that every frame queued meanwhile leaves in one writev.
 * On a veth or loopback link the send syscall also runs the peer's receive path, so it
 * is the largest cost of a replica I/O on both ends (--cpu-prof: about a third of a
 * replica engine's time under 4k random writes).
 *
 * Header-only frames (write acknowledgements, the bulk of a replica server's replies)
 * are written into a shared slab instead of a buffer each, and the batch's run of them
 * goes to the socket as one chunk: no per-frame allocation or stream bookkeeping. A slab
 * region once handed to the socket is never written again (the socket may still hold it).
 */
export class ReplicaCork {
  private readonly socket: Socket;
  private readonly immediate: boolean;
  private held = false;
  private slab: Buffer | undefined;
  /** The slab's headers not yet given to the socket are [from, used). */
  private from = 0;
  private used = 0;

  constructor(socket: Socket, release: CorkReleaseName = CorkRelease.TICK) {
    this.socket = socket;
    this.immediate = release === CorkRelease.IMMEDIATE;
  }

  /** Call before writing; the writes made until the release are flushed together. */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.socket.cork();
    if (this.immediate) setImmediate(this.release);
    else process.nextTick(this.release);
  }

  /** Queues a frame without payload (see encodeHeader) to leave with this batch. */
  header(op: number, flags: number, requestId: number, arg64: number, arg32: number, status: number): void {
    this.hold();
    let slab = this.slab;
    if (slab === undefined || this.used === slab.length) {
      this.pushHeaders();
      slab = this.slab = Buffer.allocUnsafeSlow(HEADER_SLAB_BYTES);
      this.from = this.used = 0;
    }
    encodeHeaderInto(slab, this.used, op, flags, requestId, 0, arg64, arg32, status);
    this.used += REPLICA_HEADER_LENGTH;
  }

  private pushHeaders(): void {
    if (this.used === this.from) return;
    const run = (this.slab as Buffer).subarray(this.from, this.used);
    this.from = this.used;
    if (this.socket.writable) this.socket.write(run);
  }

  private readonly release = (): void => {
    this.pushHeaders();
    this.held = false;
    this.socket.uncork();
  };
}
