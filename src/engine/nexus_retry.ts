import type { Logger } from '../util/log.ts';
import { describeFault } from './errors.ts';

/** First retry of a retired replica comes this soon: a restarted peer is back in well under a second. */
export const NEXUS_RETRY_MIN_MS = 500;
/** Retries back off (doubling) to at most this: an absent node costs one connect attempt per period. */
export const NEXUS_RETRY_MAX_MS = 8000;

interface Attempt {
  delay: number;
  timer?: NodeJS.Timeout;
  busy: boolean;
}

/**
 * Brings retired replicas back: each (nexus, child) marked due is tried after a delay
 * that doubles on every failure, from NEXUS_RETRY_MIN_MS up to NEXUS_RETRY_MAX_MS.
 * `revive` does the work (reconnect + resync); a success ends the attempts until the
 * child is marked due again.
 */
export class NexusRetrier {
  readonly #revive: (nexus: string, child: string) => Promise<unknown>;
  readonly #log: Logger;
  readonly #attempts = new Map<string, Attempt>();
  #closed = false;

  constructor(revive: (nexus: string, child: string) => Promise<unknown>, log: Logger) {
    this.#revive = revive;
    this.#log = log;
  }

  due(nexus: string, child: string): void {
    if (this.#closed) return;
    const key = `${nexus}\u0000${child}`;
    let a = this.#attempts.get(key);
    if (!a) {
      a = { delay: NEXUS_RETRY_MIN_MS, busy: false };
      this.#attempts.set(key, a);
    }
    if (a.timer || a.busy) return;
    this.#schedule(key, a, nexus, child);
  }

  /** Stops retrying one child, or every child of a nexus. */
  forget(nexus: string, child?: string): void {
    for (const [key, a] of this.#attempts) {
      const [n, c] = key.split('\u0000');
      if (n !== nexus || (child !== undefined && c !== child)) continue;
      if (a.timer) clearTimeout(a.timer);
      this.#attempts.delete(key);
    }
  }

  close(): void {
    this.#closed = true;
    for (const a of this.#attempts.values()) if (a.timer) clearTimeout(a.timer);
    this.#attempts.clear();
  }

  #schedule(key: string, a: Attempt, nexus: string, child: string): void {
    a.timer = setTimeout(() => {
      a.timer = undefined;
      a.busy = true;
      this.#revive(nexus, child).then(
        () => {
          a.busy = false;
          if (this.#attempts.get(key) === a) this.#attempts.delete(key);
        },
        (err: unknown) => {
          a.busy = false;
          if (this.#closed || this.#attempts.get(key) !== a) return;
          this.#log.debug({ nexus, child, reason: describeFault(err), retryMs: a.delay }, 'replica still unreachable');
          a.delay = Math.min(NEXUS_RETRY_MAX_MS, a.delay * 2);
          this.#schedule(key, a, nexus, child);
        },
      );
    }, a.delay);
    a.timer.unref();
  }
}
