import type { Socket } from 'node:net';

/**
 * Holds a socket's writes back until the end of the current event-loop turn, so that
 * every frame queued during the turn leaves in one writev. On a veth or loopback link
 * the send syscall also runs the peer's receive path, so under load it is the largest
 * cost of a replica I/O on both ends (measured with --cpu-prof: one send per reply
 * took about a third of a replica engine's time). Uncorking in setImmediate rather
 * than nextTick gathers the frames of every completion the poll phase delivered
 * (many fs and socket callbacks), not only those of one callback; the wait is at most
 * the rest of that phase.
 */
export class ReplicaCork {
  private readonly socket: Socket;
  private held = false;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Call before writing; the writes of this turn are flushed together. */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.socket.cork();
    if (process.env.BERTH_CORK === "tick") process.nextTick(this.release); else setImmediate(this.release);
  }

  private readonly release = (): void => {
    this.held = false;
    this.socket.uncork();
  };
}
