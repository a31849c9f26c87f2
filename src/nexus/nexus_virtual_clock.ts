import { TestDevice } from './nexus_test_devices.ts';

/**
 * Test support: a clock that moves only when a simulated device latency elapses, so a
 * read-balancing test sees the latencies it chose however slow or loaded the host is.
 * While `run` executes a body, `performance.now()` (what the nexus times reads with)
 * reads this clock, and whenever the event loop has nothing else to do the earliest
 * pending completion fires and moves the clock to its time. Not used by production code.
 */
export class VirtualClock {
  now = 0;
  private readonly pending: { due: number; seq: number; fire: () => void }[] = [];
  private seq = 0;

  /** Calls `fire` once `ms` of virtual time have passed. */
  after(ms: number, fire: () => void): void {
    this.pending.push({ due: this.now + ms, seq: this.seq++, fire });
  }

  async run<T>(body: () => Promise<T>): Promise<T> {
    const perf = performance as { now: () => number };
    perf.now = () => this.now;
    let settled = false;
    const result = body().finally(() => { settled = true; });
    try {
      while (!settled) {
        // Let every reaction to the last completion (new reads included) happen first.
        await new Promise<void>((r) => setImmediate(r));
        if (settled) break;
        const next = this.takeEarliest();
        if (next === undefined) {
          await new Promise<void>((r) => setTimeout(r, 1)); // waiting on something real
          continue;
        }
        this.now = Math.max(this.now, next.due);
        next.fire();
      }
      return await result;
    } finally {
      delete (perf as { now?: unknown }).now; // back to Performance.prototype.now
    }
  }

  private takeEarliest(): { due: number; fire: () => void } | undefined {
    if (this.pending.length === 0) return undefined;
    let best = 0;
    for (let i = 1; i < this.pending.length; i++) {
      const p = this.pending[i];
      const b = this.pending[best];
      if (p.due < b.due || (p.due === b.due && p.seq < b.seq)) best = i;
    }
    return this.pending.splice(best, 1)[0];
  }
}

/**
 * A TestDevice whose reads take `latencyMs` of virtual time on `clock`, counting the
 * reads it serves. Its other I/O keeps TestDevice's real timing (`dev.latency`).
 */
export function virtualCountedDevice(clock: VirtualClock, latencyMs: number, blocks = 1024): { dev: TestDevice; reads: () => number } {
  const dev = new TestDevice(blocks);
  let n = 0;
  const read = dev.read.bind(dev);
  dev.read = (lba: number, count: number) => {
    n++;
    // Scheduled now, when the read is sent, so its latency counts from here; once due,
    // the real read (checks, faults, data) answers before the clock moves on.
    return new Promise<Buffer>((resolve, reject) => clock.after(latencyMs, () => { read(lba, count).then(resolve, reject); }));
  };
  return { dev, reads: () => n };
}

/** What `runOnMockedTimers` needs of node:test's `t.mock.timers`. */
interface MockTimers {
  enable(opts: { apis: ('setTimeout' | 'Date')[]; now?: number }): void;
  tick(ms: number): void;
  reset(): void;
}

/**
 * Runs `body` with setTimeout and Date mocked (op deadlines, device delays), advancing
 * them `stepMs` at a time, and only when the event loop has drained what it was doing:
 * a deadline then expires after a fixed amount of work, never because the host was slow.
 * setImmediate stays real, so devices that answer on the next turn still do.
 */
export async function runOnMockedTimers<T>(timers: MockTimers, body: () => Promise<T>, stepMs = 1): Promise<T> {
  timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  let settled = false;
  const result = body().finally(() => { settled = true; });
  try {
    while (!settled) {
      await new Promise<void>((r) => setImmediate(r));
      await new Promise<void>((r) => setImmediate(r));
      if (!settled) timers.tick(stepMs);
    }
    return await result;
  } finally {
    timers.reset();
  }
}
