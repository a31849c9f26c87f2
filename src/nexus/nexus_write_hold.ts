import { BerthError } from '../util/errors.ts';

/** Longest a hold may last: a control plane lost mid-snapshot must not freeze a volume's writes for longer. */
export const WRITE_HOLD_MAX_LEASE_MS = 10_000;
export const WRITE_HOLD_DEFAULT_LEASE_MS = 2_000;

/** Another barrier holds the nexus's writes already; the caller retries. */
export class WriteHoldBusyError extends BerthError {
  constructor(nexus: string) { super('NEXUS_PAUSE_BUSY', `nexus ${nexus} is already paused by another snapshot`); }
}

/**
 * The hold ended before its owner released it (its lease ran out, the nexus closed, or
 * the token is unknown): writes may have run meanwhile, so what was cut under it is not
 * one point in time.
 */
export class WriteHoldLostError extends BerthError {
  constructor(nexus: string, why: string) { super('NEXUS_PAUSE_LOST', `the write pause of nexus ${nexus} ended before it was released: ${why}`); }
}

/** The timer a hold's lease runs on (injected by tests). */
export interface HoldTimer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimer: HoldTimer = {
  set: (fn, ms) => { const t = setTimeout(fn, ms); t.unref(); return t; },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Hold {
  readonly token: string;
  readonly released: Promise<void>;
  readonly release: () => void;
  readonly timer: unknown;
}

/**
 * The snapshot barrier's pause: while held, new writes and unmaps wait (they are not
 * failed) on `blocker`; flushes and reads go on, since they change no data. A hold
 * always carries a lease: when it runs out the writes resume by themselves and the
 * owner's `release` reports the hold as lost, so a snapshot cut under it is discarded
 * rather than trusted. One hold at a time per nexus.
 */
export class NexusWriteHold {
  readonly #nexus: string;
  readonly #timer: HoldTimer;
  #hold: Hold | undefined;
  /** Why the last hold ended without its owner, by token, so release can say so. */
  #lost = new Map<string, string>();

  constructor(nexus: string, timer: HoldTimer = realTimer) {
    this.#nexus = nexus;
    this.#timer = timer;
  }

  /** What a new write waits on; undefined when nothing is held. A plain field: the I/O fast path reads it per write. */
  blocker: Promise<void> | undefined = undefined;

  /** Starts holding writes under `token` for at most `leaseMs` (clamped to 1..WRITE_HOLD_MAX_LEASE_MS). */
  hold(token: string, leaseMs: number): void {
    if (this.#hold) throw new WriteHoldBusyError(this.#nexus);
    const ms = Math.min(WRITE_HOLD_MAX_LEASE_MS, Math.max(1, Math.floor(leaseMs)));
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    const timer = this.#timer.set(() => this.#end(token, `its ${ms} ms lease ran out`), ms);
    this.#hold = { token, released, release, timer };
    this.blocker = released;
  }

  /** Whether `token` still holds the writes. */
  holds(token: string): boolean { return this.#hold?.token === token; }

  /** Lets the writes go; throws WriteHoldLostError when this hold had already ended without its owner. */
  release(token: string): void {
    const h = this.#hold;
    if (h?.token === token) {
      this.#timer.clear(h.timer);
      this.#hold = undefined;
      this.blocker = undefined;
      h.release();
      return;
    }
    const why = this.#lost.get(token);
    this.#lost.delete(token);
    throw new WriteHoldLostError(this.#nexus, why ?? 'no such pause');
  }

  /** The nexus closes: writes fail on their own, the owner learns the hold is gone. */
  cancel(why: string): void {
    if (this.#hold) this.#end(this.#hold.token, why);
  }

  #end(token: string, why: string): void {
    const h = this.#hold;
    if (h?.token !== token) return;
    this.#timer.clear(h.timer);
    this.#hold = undefined;
    this.blocker = undefined;
    // Only the latest few reasons are kept: a token is used once.
    if (this.#lost.size >= 16) this.#lost.delete(this.#lost.keys().next().value as string);
    this.#lost.set(token, why);
    h.release();
  }
}
