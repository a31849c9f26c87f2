/**
 * How fast a rebuild may copy while the volume also serves its users. Pure: the clock
 * is injected, foreground latencies are reported to it, and the rebuild asks `limits()`
 * before each span.
 *
 * - fixed: the rebuild ignores foreground I/O; only the nexus's byte-rate cap applies.
 * - adaptive (default): the rebuild yields to foreground I/O.
 *   - Idle (no foreground I/O finished for `idleMs`): full speed, every worker, full
 *     spans — the cap, if set, still applies.
 *   - Busy: one span in flight at a time, spans of at most `busySpanBytes` (a foreground
 *     write that meets a span being copied waits for less), and a byte rate that starts
 *     at `startBytesPerSec` and adapts every `intervalMs` to the foreground's mean
 *     latency over that interval: above the target it halves, otherwise it grows by a
 *     quarter, never beyond `busyMaxBytesPerSec` and never below `floorBytesPerSec`,
 *     so a rebuild always progresses. The target is twice the baseline, and at least
 *     `targetMinMs`. The baseline is the foreground's latency without a rebuild: a
 *     moving average of sampled latencies (`quiet`, one op in 64 while no rebuild
 *     runs), lowered by any lower interval mean during the rebuild, and creeping up
 *     0.5% per interval so a workload that got heavier on its own is not held back
 *     for long.
 */
export const RebuildThrottleMode = { ADAPTIVE: 'adaptive', FIXED: 'fixed' } as const;
export type RebuildThrottleModeName = (typeof RebuildThrottleMode)[keyof typeof RebuildThrottleMode];
export const REBUILD_THROTTLE_MODE_DEFAULT: RebuildThrottleModeName = RebuildThrottleMode.ADAPTIVE;

const MiB = 1024 * 1024;

export interface RebuildThrottleTuning {
  idleMs: number;
  intervalMs: number;
  floorBytesPerSec: number;
  startBytesPerSec: number;
  busyMaxBytesPerSec: number;
  busySpanBytes: number;
  targetMinMs: number;
}

export const REBUILD_THROTTLE_TUNING: Readonly<RebuildThrottleTuning> = {
  idleMs: 250,
  intervalMs: 200,
  floorBytesPerSec: 8 * MiB,
  startBytesPerSec: 16 * MiB,
  busyMaxBytesPerSec: 128 * MiB,
  busySpanBytes: 1 * MiB,
  targetMinMs: 2,
};

/** What the rebuild may do now. */
export interface RebuildLimits {
  /** Bytes per second of copied data; 0 for no limit. */
  bytesPerSec: number;
  /** Spans in flight at once, at most; Infinity for the job's own parallelism. */
  parallel: number;
  /** Bytes per span, at most; Infinity for the job's own span size. */
  spanBytes: number;
}

export const REBUILD_FULL_SPEED: Readonly<RebuildLimits> = { bytesPerSec: 0, parallel: Infinity, spanBytes: Infinity };

export function isRebuildThrottleMode(v: unknown): v is RebuildThrottleModeName {
  return v === RebuildThrottleMode.ADAPTIVE || v === RebuildThrottleMode.FIXED;
}

export class RebuildThrottle {
  private readonly now: () => number;
  private readonly t: RebuildThrottleTuning;
  private modeName: RebuildThrottleModeName;
  private lastForeground = -Infinity;
  private busy = false;
  private rate: number;
  private intervalStart = 0;
  private sumMs = 0;
  private ops = 0;
  private baselineMs = Infinity;
  /** Moving average of foreground latency while no rebuild ran; undefined before the first sample. */
  private quietMs: number | undefined;

  constructor(mode: RebuildThrottleModeName, now: () => number, tuning: Partial<RebuildThrottleTuning> = {}) {
    this.modeName = mode;
    this.now = now;
    this.t = { ...REBUILD_THROTTLE_TUNING, ...tuning };
    this.rate = this.t.startBytesPerSec;
  }

  get mode(): RebuildThrottleModeName { return this.modeName; }
  set mode(m: RebuildThrottleModeName) { this.modeName = m; }

  /** A foreground I/O finished after `latencyMs` while no rebuild ran (a sample, not every op). */
  quiet(latencyMs: number): void {
    this.quietMs = this.quietMs === undefined ? latencyMs : this.quietMs + (latencyMs - this.quietMs) / 16;
  }

  /** A foreground I/O finished after `latencyMs` while a rebuild runs. */
  foreground(latencyMs: number): void {
    const now = this.now();
    if (!this.busy || now - this.lastForeground >= this.t.idleMs) this.becomeBusy(now);
    this.lastForeground = now;
    this.sumMs += latencyMs;
    this.ops++;
    if (now - this.intervalStart >= this.t.intervalMs) this.adapt(now);
  }

  /**
   * Foreground I/O was last seen at `at` (same clock), reported without a latency: lets
   * a rebuild that starts under load yield from its first span.
   */
  seenAt(at: number): void {
    const now = this.now();
    if (now - at >= this.t.idleMs || (this.busy && at <= this.lastForeground)) return;
    if (!this.busy || now - this.lastForeground >= this.t.idleMs) this.becomeBusy(now);
    this.lastForeground = at;
  }

  limits(): RebuildLimits {
    if (this.modeName === RebuildThrottleMode.FIXED) return REBUILD_FULL_SPEED;
    const now = this.now();
    if (!this.busy || now - this.lastForeground >= this.t.idleMs) {
      this.busy = false;
      return REBUILD_FULL_SPEED;
    }
    if (now - this.intervalStart >= this.t.intervalMs) this.adapt(now);
    return { bytesPerSec: this.rate, parallel: 1, spanBytes: this.t.busySpanBytes };
  }

  /** Foreground I/O after an idle spell: start again from the start rate. */
  private becomeBusy(now: number): void {
    this.busy = true;
    this.rate = this.t.startBytesPerSec;
    this.baselineMs = this.quietMs ?? Infinity;
    this.intervalStart = now;
    this.sumMs = 0;
    this.ops = 0;
  }

  private adapt(now: number): void {
    if (this.ops > 0) {
      const mean = this.sumMs / this.ops;
      this.baselineMs = Math.min(this.baselineMs * 1.005, mean);
      const target = Math.max(this.t.targetMinMs, 2 * this.baselineMs);
      this.rate = mean > target ? this.rate / 2 : this.rate * 1.25;
      this.rate = Math.min(this.t.busyMaxBytesPerSec, Math.max(this.t.floorBytesPerSec, this.rate));
    }
    this.intervalStart = now;
    this.sumMs = 0;
    this.ops = 0;
  }
}
