import type { LogicalUnit } from '../scsi/logical_unit.ts';
import { WRITE_HOLD_MAX_LEASE_MS, WriteHoldBusyError, WriteHoldLostError, type HoldTimer } from '../nexus/index.ts';

const realTimer: HoldTimer = {
  set: (fn, ms) => { const t = setTimeout(fn, ms); t.unref(); return t; },
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Held { token: string; timer: unknown; release?: () => void; ended?: string }

/**
 * The snapshot barrier for a volume exported straight from its engine (one replica, no
 * nexus): the export's SCSI logical unit takes its whole block range exclusively, the
 * lock every write and unmap already checks (COMPARE AND WRITE's), so new writes wait
 * with no cost on the I/O path, and its write gate drains those in flight. Same lease
 * rules as the nexus's hold (nexus_write_hold.ts): a pause ends by itself, and a resume
 * after that is NEXUS_PAUSE_LOST.
 */
export class ExportWriteHolds {
  readonly #timer: HoldTimer;
  readonly #held = new Map<string, Held>();
  readonly #lost = new Map<string, string>();

  constructor(timer: HoldTimer = realTimer) { this.#timer = timer; }

  async pause(key: string, lu: LogicalUnit, token: string, leaseMs: number): Promise<void> {
    if (this.#held.has(key)) throw new WriteHoldBusyError(key);
    const ms = Math.min(WRITE_HOLD_MAX_LEASE_MS, Math.max(1, Math.floor(leaseMs)));
    const h: Held = { token, timer: undefined };
    // The lease runs from the request: taking the range and draining count against it.
    h.timer = this.#timer.set(() => this.#end(key, h, `its ${ms} ms lease ran out`), ms);
    this.#held.set(key, h);
    const release = await lu.locks.acquire(0, Number.MAX_SAFE_INTEGER);
    if (h.ended !== undefined) {
      release();
      throw new WriteHoldLostError(key, h.ended);
    }
    h.release = release;
    await lu.writes.drain();
    if (h.ended !== undefined) throw new WriteHoldLostError(key, h.ended);
  }

  resume(key: string, token: string): void {
    const h = this.#held.get(key);
    if (h?.token === token && h.ended === undefined) {
      this.#timer.clear(h.timer);
      this.#held.delete(key);
      h.release?.();
      return;
    }
    const why = this.#lost.get(token);
    this.#lost.delete(token);
    throw new WriteHoldLostError(key, why ?? 'no such pause');
  }

  #end(key: string, h: Held, why: string): void {
    if (this.#held.get(key) !== h) return;
    this.#held.delete(key);
    h.ended = why;
    h.release?.();
    if (this.#lost.size >= 16) this.#lost.delete(this.#lost.keys().next().value as string);
    this.#lost.set(h.token, why);
  }
}
