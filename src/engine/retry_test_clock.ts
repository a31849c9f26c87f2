import type { RetryClock } from './nexus_retry.ts';

/** A RetryClock for tests: its timers fire only when the test advances it. Not used by production code. */
export class ManualClock implements RetryClock {
  t = 0;
  #timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now(): number { return this.t; }
  setTimer(fn: () => void, ms: number): { cancel(): void } {
    const timer = { at: this.t + ms, fn, live: true };
    this.#timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  }
  /** Delays from now of the timers still pending. */
  get pending(): number[] { return this.#timers.filter((x) => x.live).map((x) => x.at - this.t); }
  /** Moves time forward, firing due timers in order and letting what they start settle (`settle`). */
  async advance(ms: number, settle: () => Promise<void> = microtasks): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = this.#timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = next.at;
      next.live = false;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

export async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
