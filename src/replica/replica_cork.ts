import type { Socket } from 'node:net';

/**
 * Holds a socket's writes back until the current callback's ticks run, so that every
 * frame queued by one callback (a burst of requests cut from one chunk) leaves in one
 * writev. On a veth or loopback link the send syscall also runs the peer's receive
 * path, so it is the largest cost of a replica I/O on both ends (--cpu-prof: about a
 * third of a replica engine's time under 4k random writes). Holding until setImmediate
 * would gather more frames per send but delays every reply behind the poll phase's
 * other callbacks; measured under load it was no better, so the hold ends at nextTick.
 */
export class ReplicaCork {
  private readonly socket: Socket;
  private held = false;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Call before writing; the writes made until the next tick are flushed together. */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.socket.cork();
    process.nextTick(this.release);
  }

  private readonly release = (): void => {
    this.held = false;
    this.socket.uncork();
  };
}
