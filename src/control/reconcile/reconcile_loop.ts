import type { Logger } from '../../util/log.ts';
import { errorCode } from '../../util/errors.ts';
import type { ServiceContext } from '../service/service_context.ts';
import type { Reconciler } from './reconcile_types.ts';

export interface LoopOptions {
  /** First wait after a failed pass, doubled per failure up to `maxBackoffMs`. */
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface PassReport {
  readonly name: string;
  /** Things changed; undefined when skipped (backing off) or failed. */
  readonly changed?: number;
  readonly error?: string;
}

/** What /metrics reports per reconciler; plain numbers, read at scrape time. */
export interface ReconcilerStats {
  runs: number;
  errors: number;
  /** Wall time of every run, summed. */
  secondsTotal: number;
  lastSeconds: number;
  /** Milliseconds since the epoch of the last run that did not throw; 0 if none yet. */
  lastSuccessMs: number;
}

interface Backoff {
  failures: number;
  notBeforeMs: number;
}

/**
 * Runs reconcilers one after another, one pass per `runOnce` call. A reconciler that
 * throws is skipped for a while that doubles with each consecutive failure (so a dead
 * store or engine is not hammered), and retried after; one success resets it. The
 * caller owns the clock: main drives `runOnce` from a timer, tests call it directly.
 */
export class ReconcileLoop {
  readonly #ctx: ServiceContext;
  readonly #reconcilers: readonly Reconciler[];
  readonly #log: Logger;
  readonly #base: number;
  readonly #max: number;
  readonly #backoff = new Map<string, Backoff>();
  readonly stats = new Map<string, ReconcilerStats>();
  #running: Promise<PassReport[]> | undefined;

  constructor(ctx: ServiceContext, reconcilers: readonly Reconciler[], options: LoopOptions = {}) {
    this.#ctx = ctx;
    this.#reconcilers = reconcilers;
    this.#log = ctx.log.child({ component: 'reconcile' });
    this.#base = options.baseBackoffMs ?? 1_000;
    this.#max = options.maxBackoffMs ?? 60_000;
  }

  /** One pass over every reconciler; a pass already running is joined, not doubled. */
  runOnce(): Promise<PassReport[]> {
    this.#running ??= this.#pass().finally(() => { this.#running = undefined; });
    return this.#running;
  }

  async #pass(): Promise<PassReport[]> {
    const out: PassReport[] = [];
    for (const r of this.#reconcilers) {
      const now = this.#ctx.now();
      const b = this.#backoff.get(r.name);
      if (b !== undefined && now < b.notBeforeMs) {
        out.push({ name: r.name });
        continue;
      }
      const stats = this.#statsOf(r.name);
      const started = performance.now();
      const ran = (): void => {
        stats.runs++;
        stats.lastSeconds = (performance.now() - started) / 1000;
        stats.secondsTotal += stats.lastSeconds;
      };
      try {
        const changed = await r.run(this.#ctx);
        ran();
        stats.lastSuccessMs = this.#ctx.now();
        this.#backoff.delete(r.name);
        if (changed > 0) this.#log.debug({ reconciler: r.name, changed }, 'reconciler changed state');
        out.push({ name: r.name, changed });
      } catch (err) {
        ran();
        stats.errors++;
        const failures = (b?.failures ?? 0) + 1;
        const wait = Math.min(this.#max, this.#base * 2 ** (failures - 1));
        this.#backoff.set(r.name, { failures, notBeforeMs: this.#ctx.now() + wait });
        this.#log.warn({ reconciler: r.name, failures, retryInMs: wait, code: errorCode(err), err }, 'reconciler failed');
        out.push({ name: r.name, error: errorCode(err) ?? (err as Error).message });
      }
    }
    return out;
  }

  #statsOf(name: string): ReconcilerStats {
    let s = this.stats.get(name);
    if (s === undefined) this.stats.set(name, s = { runs: 0, errors: 0, secondsTotal: 0, lastSeconds: 0, lastSuccessMs: 0 });
    return s;
  }
}
