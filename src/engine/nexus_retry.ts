import type { Logger } from '../util/log.ts';
import { describeFault } from './errors.ts';

/** First retry of a retired replica comes this soon: a restarted peer is back in well under a second. */
export const NEXUS_RETRY_MIN_MS = 500;
/** Reconnects back off (doubling) to at most this: an absent node costs one connect attempt per period. */
export const NEXUS_RETRY_MAX_MS = 8000;
/**
 * A replica that connects but whose rebuild fails (its pool is full, its disk errors)
 * backs off further, to this: each attempt copies data and rewrites state files, so
 * retrying it every few seconds is all cost and no gain.
 */
export const NEXUS_REBUILD_RETRY_MAX_MS = 5 * 60_000;
/** A replica counts as healed, and its backoff starts over, after staying online this long. */
export const NEXUS_RETRY_STABLE_MS = 60_000;

/** Time and timers, injectable so the backoff is tested without waiting. */
export interface RetryClock {
  now(): number;
  setTimer(fn: () => void, ms: number): { cancel(): void };
}

export const realRetryClock: RetryClock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** What the API shows of a replica the engine is trying to bring back. */
export interface RetryStatus {
  attempts: number;
  /** Why the last attempt (reconnect or rebuild) failed. */
  lastError?: string;
  /** When the next attempt starts (epoch ms); undefined while one runs or none is planned. */
  retryAt?: number;
}

interface Attempt {
  delay: number;
  timer?: { cancel(): void };
  retryAt?: number;
  busy: boolean;
  /** Marked due while an attempt ran: go again when it ends. */
  again: boolean;
  attempts: number;
  lastError?: string;
  onlineSince?: number;
}

/**
 * Brings retired replicas back: each (nexus, child) marked due is tried after a delay
 * that doubles on every failure — a failed reconnect (up to NEXUS_RETRY_MAX_MS) and a
 * failed rebuild alike (up to NEXUS_REBUILD_RETRY_MAX_MS). `revive` does the work
 * (reconnect + resync). The backoff is kept until the child has been online for
 * NEXUS_RETRY_STABLE_MS (`healed`), so a replica that connects, fails its rebuild and
 * is retired again does not start over at the shortest delay. A child marked due while
 * its attempt runs is tried again when that attempt ends, whatever its outcome.
 */
export class NexusRetrier {
  readonly #revive: (nexus: string, child: string) => Promise<unknown>;
  readonly #log: Logger;
  readonly #clock: RetryClock;
  readonly #attempts = new Map<string, Attempt>();
  #closed = false;

  constructor(revive: (nexus: string, child: string) => Promise<unknown>, log: Logger, clock: RetryClock = realRetryClock) {
    this.#revive = revive;
    this.#log = log;
    this.#clock = clock;
  }

  due(nexus: string, child: string): void {
    if (this.#closed) return;
    const key = keyOf(nexus, child);
    let a = this.#attempts.get(key);
    if (!a) {
      a = { delay: NEXUS_RETRY_MIN_MS, busy: false, again: false, attempts: 0 };
      this.#attempts.set(key, a);
    }
    if (a.onlineSince !== undefined) {
      if (this.#clock.now() - a.onlineSince >= NEXUS_RETRY_STABLE_MS) {
        a.delay = NEXUS_RETRY_MIN_MS;
        a.attempts = 0;
      }
      a.onlineSince = undefined;
    }
    if (a.busy) {
      a.again = true;
      return;
    }
    if (a.timer) return;
    this.#schedule(key, a, nexus, child);
  }

  /**
   * The child's rebuild failed after it reconnected: back off further (capped at
   * NEXUS_REBUILD_RETRY_MAX_MS) and retry, replacing any attempt already planned.
   */
  failed(nexus: string, child: string, err: unknown): void {
    if (this.#closed) return;
    const key = keyOf(nexus, child);
    const a = this.#attempts.get(key);
    if (!a) return;
    a.lastError = describeFault(err);
    a.onlineSince = undefined;
    a.delay = Math.min(NEXUS_REBUILD_RETRY_MAX_MS, a.delay * 2);
    this.#log.warn({ nexus, child, reason: a.lastError, retryMs: a.delay }, 'replica rebuild failed; retrying later');
    if (a.busy) {
      a.again = true;
      return;
    }
    a.timer?.cancel();
    this.#schedule(key, a, nexus, child);
  }

  /** The child is online again; its backoff is forgotten once it stays so (NEXUS_RETRY_STABLE_MS). */
  healed(nexus: string, child: string): void {
    const a = this.#attempts.get(keyOf(nexus, child));
    if (!a) return;
    a.onlineSince = this.#clock.now();
    a.lastError = undefined;
  }

  status(nexus: string, child: string): RetryStatus | undefined {
    const a = this.#attempts.get(keyOf(nexus, child));
    if (!a || a.onlineSince !== undefined) return undefined;
    return { attempts: a.attempts, ...(a.lastError ? { lastError: a.lastError } : {}), ...(a.retryAt !== undefined ? { retryAt: a.retryAt } : {}) };
  }

  /** Stops retrying one child, or every child of a nexus. */
  forget(nexus: string, child?: string): void {
    for (const [key, a] of this.#attempts) {
      const [n, c] = key.split('\u0000');
      if (n !== nexus || (child !== undefined && c !== child)) continue;
      a.timer?.cancel();
      this.#attempts.delete(key);
    }
  }

  close(): void {
    this.#closed = true;
    for (const a of this.#attempts.values()) a.timer?.cancel();
    this.#attempts.clear();
  }

  #schedule(key: string, a: Attempt, nexus: string, child: string): void {
    a.retryAt = this.#clock.now() + a.delay;
    a.timer = this.#clock.setTimer(() => {
      a.timer = undefined;
      a.retryAt = undefined;
      if (this.#attempts.get(key) !== a) return;
      a.busy = true;
      a.again = false;
      a.attempts++;
      this.#revive(nexus, child).then(
        () => {
          a.busy = false;
          if (this.#closed || this.#attempts.get(key) !== a) return;
          if (a.again && !a.timer) this.#schedule(key, a, nexus, child);
        },
        (err: unknown) => {
          a.busy = false;
          if (this.#closed || this.#attempts.get(key) !== a) return;
          a.lastError = describeFault(err);
          this.#log.debug({ nexus, child, reason: a.lastError, retryMs: a.delay }, 'replica still unreachable');
          a.delay = Math.min(Math.max(NEXUS_RETRY_MAX_MS, a.delay), a.delay * 2);
          if (!a.timer) this.#schedule(key, a, nexus, child);
        },
      );
    }, a.delay);
  }
}

function keyOf(nexus: string, child: string): string {
  return `${nexus}\u0000${child}`;
}
