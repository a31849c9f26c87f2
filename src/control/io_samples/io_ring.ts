/**
 * A short history of one volume's I/O counters and the rates between samples: what the
 * dashboard's live charts draw. Bounded (the oldest sample goes); pure — the sampler
 * (io_sampler.ts) brings the samples and the clock.
 */
import type { IoCounters } from './io_counters.ts';

export interface IoSample {
  readonly atMs: number;
  readonly counters: IoCounters;
}

/** Rates over the interval ending at `atMs`. Latency is the mean of the commands completed in it (null when none). */
export interface IoPoint {
  readonly atMs: number;
  readonly readIops: number;
  readonly writeIops: number;
  readonly readBytesPerSec: number;
  readonly writeBytesPerSec: number;
  readonly readLatencyMs: number | null;
  readonly writeLatencyMs: number | null;
}

export class IoRing {
  readonly #capacity: number;
  readonly #samples: IoSample[] = [];

  constructor(capacity: number) {
    this.#capacity = Math.max(2, capacity);
  }

  push(s: IoSample): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && s.atMs <= last.atMs) return;
    this.#samples.push(s);
    if (this.#samples.length > this.#capacity) this.#samples.shift();
  }

  /** Forget the history: the volume moved to another export (new counters from zero). */
  clear(): void {
    this.#samples.length = 0;
  }

  get size(): number {
    return this.#samples.length;
  }

  points(): IoPoint[] {
    return ratePoints(this.#samples);
  }
}

/** Rates between consecutive samples; an interval where a counter went down (engine restarted) is left out. */
export function ratePoints(samples: readonly IoSample[]): IoPoint[] {
  const out: IoPoint[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1].counters;
    const b = samples[i].counters;
    const secs = (samples[i].atMs - samples[i - 1].atMs) / 1000;
    const d = {
      readOps: b.readOps - a.readOps, writeOps: b.writeOps - a.writeOps, readBytes: b.readBytes - a.readBytes,
      writeBytes: b.writeBytes - a.writeBytes, readLat: b.readLatencySum - a.readLatencySum, writeLat: b.writeLatencySum - a.writeLatencySum,
    };
    if (secs <= 0 || Object.values(d).some((x) => x < 0)) continue;
    out.push({
      atMs: samples[i].atMs,
      readIops: d.readOps / secs,
      writeIops: d.writeOps / secs,
      readBytesPerSec: d.readBytes / secs,
      writeBytesPerSec: d.writeBytes / secs,
      readLatencyMs: d.readOps > 0 ? (d.readLat / d.readOps) * 1000 : null,
      writeLatencyMs: d.writeOps > 0 ? (d.writeLat / d.writeOps) * 1000 : null,
    });
  }
  return out;
}
