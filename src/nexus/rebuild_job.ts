import type { BlockDevice } from '../block/block_device.ts';
import type { RebuildMap } from './rebuild_map.ts';
import type { NexusIoGate } from './nexus_io_gate.ts';
import { RebuildCancelledError, RebuildTargetError } from './nexus_errors.ts';
import { REBUILD_FULL_SPEED, type RebuildLimits } from './rebuild_throttle.ts';

/** What a rebuild reads from: the nexus (its in-sync children), or any device in tests. */
export type RebuildSource = Pick<BlockDevice, 'blockSize' | 'thin' | 'read' | 'readInto' | 'mapStatus'>;

export interface RebuildProgress {
  /** Bytes of the plan processed (copied, or found unmapped and skipped). */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes actually read from the source and written to the target. */
  bytesCopied: number;
  /** bytesDone per second since the start. */
  rate: number;
  /** Seconds left at the current rate; undefined before there is a rate. */
  etaSeconds: number | undefined;
}

export interface RebuildJobOptions {
  /** Reads in-sync data: the nexus itself, which reads only from online children. */
  source: RebuildSource;
  target: BlockDevice;
  map: RebuildMap;
  gate: NexusIoGate;
  /** The target reads zeros everywhere (a new thin replica): unmapped runs need no unmap. */
  blankTarget?: boolean;
  /** Bytes per second of copied data; 0 or undefined for no limit. A hard cap on top of `limits`. */
  throttleBytesPerSec?: number;
  /** Asked before each span (see RebuildThrottle); default full speed. */
  limits?: () => RebuildLimits;
  /** Spans (runs of regions, see REBUILD_SPAN_BYTES) copied at once. */
  parallel?: number;
  /** A target op silent this long fails the rebuild (the target is then retired). */
  opTimeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Contiguous dirty regions one worker copies under one lock: big enough that the copy
 * streams rather than waits on round trips, small enough that a foreground write to a
 * locked span waits only for a few MiB to cross the link. The write-intent map keeps its
 * own (finer) granularity; this only groups its regions.
 */
export const REBUILD_SPAN_BYTES = 8 * 1024 * 1024;
/** One read from the source and one write to the target; a span's chunks are all in flight at once. */
export const REBUILD_CHUNK_BYTES = 1024 * 1024;
/** Copies of one span in flight at once: a span of scattered small extents must not flood the target. */
export const REBUILD_SPAN_OPS_MAX = 32;
/** Chunks below this are read into a fresh buffer: recycling 1 MiB buffers for 4 KiB extents would waste memory. */
const POOLED_CHUNK_MIN_BYTES = REBUILD_CHUNK_BYTES / 4;
/** A worker beyond the parallelism `limits` allow looks again after this long. */
const PARKED_MS = 50;

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Copies the regions a rebuild map names from the in-sync source to a target that is
 * already receiving every foreground write. Each span of regions is copied under the I/O gate's
 * lock, so no write to it is in flight while it is read and written. Thin sources are
 * copied by mapped runs only (mapStatus); unmapped runs are unmapped on the target so
 * it reads zeros there too. Errors of the target are wrapped in RebuildTargetError so
 * the nexus knows whom to retire.
 */
export class RebuildJob {
  private readonly opts: RebuildJobOptions;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly blockSize: number;
  private throttle: number;
  private started = 0;
  /** When the next span may start under a byte rate (see pace). */
  private nextAt = 0;
  private copiedBytes = 0;
  private cancelled: Error | undefined;
  /** Wakes a throttled worker early when the job is cancelled. */
  private readonly cancelSignal: Promise<void>;
  private signalCancel!: () => void;
  private readonly cancelRejection: Promise<never>;
  private result: Promise<void> | undefined;
  /** Chunk buffers whose copy is over (see copyChunk); at most the chunks that can be in flight. */
  private readonly spare: Buffer[] = [];
  private readonly spareMax: number;

  constructor(opts: RebuildJobOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? defaultSleep;
    this.blockSize = opts.source.blockSize;
    this.throttle = opts.throttleBytesPerSec ?? 0;
    this.cancelSignal = new Promise((resolve) => { this.signalCancel = resolve; });
    this.cancelRejection = this.cancelSignal.then(() => { throw this.cancelled; });
    this.cancelRejection.catch(() => undefined);
    this.spareMax = Math.max(1, opts.parallel ?? 2) * Math.ceil(REBUILD_SPAN_BYTES / REBUILD_CHUNK_BYTES);
  }

  /** Runs the copy once; resolves when the map is empty and the target flushed. */
  run(): Promise<void> {
    this.result ??= this.copyAll();
    return this.result;
  }

  /** Stops after the regions in flight; `run` rejects with `reason`. */
  cancel(reason: Error = new RebuildCancelledError()): void {
    this.cancelled ??= reason;
    this.signalCancel();
  }

  setThrottle(bytesPerSec: number): void { this.throttle = bytesPerSec; }

  progress(): RebuildProgress {
    const bs = this.blockSize;
    const bytesDone = this.opts.map.blocksDone * bs;
    const bytesTotal = this.opts.map.blocksTotal * bs;
    const seconds = this.started ? (this.now() - this.started) / 1000 : 0;
    const rate = seconds > 0 ? bytesDone / seconds : 0;
    return {
      bytesDone, bytesTotal, bytesCopied: this.copiedBytes, rate,
      etaSeconds: rate > 0 ? (bytesTotal - bytesDone) / rate : undefined,
    };
  }

  private async copyAll(): Promise<void> {
    this.started = this.now();
    const workers: Array<Promise<void>> = [];
    for (let i = 0; i < Math.max(1, this.opts.parallel ?? 2); i++) workers.push(this.worker(i));
    const outcomes = await Promise.allSettled(workers);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
    if (this.cancelled) throw this.cancelled;
    await this.guardTarget(this.opts.target.flush());
  }

  /** Lets a cancel interrupt a wait, so the region lock is never held by a dead copy. */
  private guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.cancelRejection]);
  }

  /** Target ops: cancellable, bounded by the op timeout, and blamed on the target. */
  private async guardTarget(p: Promise<void>): Promise<void> {
    const ms = this.opts.opTimeoutMs ?? 0;
    let timer: NodeJS.Timeout | undefined;
    const racers: Array<Promise<void>> = [p, this.cancelRejection];
    if (ms > 0) racers.push(new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`rebuild target silent for ${ms} ms`)), ms); }));
    try {
      await Promise.race(racers);
    } catch (err) {
      if (err === this.cancelled) throw err;
      throw new RebuildTargetError(err);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private limits(): RebuildLimits {
    const l = this.opts.limits?.() ?? REBUILD_FULL_SPEED;
    const cap = this.throttle;
    if (cap <= 0) return l;
    return { ...l, bytesPerSec: l.bytesPerSec > 0 ? Math.min(l.bytesPerSec, cap) : cap };
  }

  private async worker(index: number): Promise<void> {
    const map = this.opts.map;
    for (;;) {
      const limits = this.limits();
      if (index >= limits.parallel) {
        if (map.done) return;
        await this.wait(PARKED_MS);
        if (this.cancelled) throw this.cancelled;
        continue;
      }
      if (this.cancelled) throw this.cancelled;
      const r = map.claimRun(this.spanRegions(limits));
      if (r < 0) return;
      const extents = map.claimed;
      const t0 = this.now();
      try {
        await this.copySpan(extents);
      } catch (err) {
        map.abandoned(extents);
        this.cancel(err as Error);
        throw err;
      }
      map.finished(extents);
      let blocks = 0;
      for (let k = 1; k < extents.length; k += 2) blocks += extents[k];
      if (limits.bytesPerSec > 0) {
        this.nextAt = Math.max(this.nextAt, t0) + (blocks * this.blockSize / limits.bytesPerSec) * 1000;
        await this.pace();
      }
    }
  }

  /** Regions per span: REBUILD_SPAN_BYTES or what `limits` allow, or under a rate about 1/8 s of it, so pacing stays smooth. */
  private spanRegions(limits: RebuildLimits): number {
    const regionBytes = this.opts.map.intents.regionBlocks * this.blockSize;
    let bytes = Math.min(REBUILD_SPAN_BYTES, limits.spanBytes);
    if (limits.bytesPerSec > 0) bytes = Math.min(bytes, limits.bytesPerSec / 8);
    return Math.max(1, Math.floor(bytes / regionBytes));
  }

  /**
   * Copies the claimed extents (flat lba, count pairs) under one lock of their range.
   * Extents are cut into chunks that are read and written at once (up to
   * REBUILD_SPAN_OPS_MAX in flight), so the source reads of later chunks overlap the
   * target writes of earlier ones; the lock is held until every chunk has settled.
   */
  private async copySpan(extents: readonly number[]): Promise<void> {
    const { source, target, gate } = this.opts;
    const lba = extents[0];
    const end = extents[extents.length - 2] + extents[extents.length - 1];
    const chunk = Math.max(1, Math.floor(REBUILD_CHUNK_BYTES / this.blockSize));
    await gate.lock(lba, end - lba);
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    const start = (p: Promise<void>): void => {
      const tracked: Promise<void> = p.then(undefined, (err: unknown) => { failure ??= err; }).finally(() => inflight.delete(tracked));
      inflight.add(tracked);
    };
    try {
      for (let k = 0; k < extents.length && failure === undefined; k += 2) {
        const xEnd = extents[k] + extents[k + 1];
        for (let at = extents[k]; at < xEnd && failure === undefined;) {
          if (this.cancelled) throw this.cancelled;
          const run = source.thin ? await this.guard(source.mapStatus(at, xEnd - at)) : { mapped: true, count: xEnd - at };
          const len = Math.min(Math.max(1, run.count), xEnd - at);
          if (run.mapped) {
            for (let c = at; c < at + len && failure === undefined; c += chunk) {
              while (inflight.size >= REBUILD_SPAN_OPS_MAX) await Promise.race(inflight);
              start(this.copyChunk(c, Math.min(chunk, at + len - c)));
            }
          } else if (!this.opts.blankTarget) {
            start(this.guardTarget(target.unmap(at, len)));
          }
          at += len;
        }
      }
    } finally {
      // Never unlock while a copy of this span could still land on the target.
      while (inflight.size > 0) await Promise.all(inflight);
      gate.unlock(lba);
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * Reads one chunk and writes it to the target. With a source that reads into a given
   * buffer, chunks reuse a few buffers instead of each read returning a fresh 1 MiB one
   * (at several hundred MiB/s those were most of the engine's collector time). A buffer
   * goes back to `spare` only when nothing can touch it any more: the read settled (a
   * readInto settles only once it no longer writes), the target's write succeeded, and
   * the target says it keeps no reference after that (releasesWriteBuffers). After any
   * failure or cancel it is left to the collector, since a read or write may be in flight.
   */
  private async copyChunk(lba: number, count: number): Promise<void> {
    const { source, target } = this.opts;
    const bytes = count * this.blockSize;
    let data: Buffer;
    let own: Buffer | undefined;
    if (source.readInto !== undefined && bytes >= POOLED_CHUNK_MIN_BYTES) {
      own = this.spare.pop() ?? Buffer.allocUnsafeSlow(Math.floor(REBUILD_CHUNK_BYTES / this.blockSize) * this.blockSize || this.blockSize);
      data = bytes === own.length ? own : own.subarray(0, bytes);
      await this.guard(source.readInto(lba, count, data));
    } else {
      data = await this.guard(source.read(lba, count));
    }
    await this.guardTarget(target.write(lba, data, false));
    this.copiedBytes += data.length;
    if (own !== undefined && target.releasesWriteBuffers === true && this.spare.length < this.spareMax) this.spare.push(own);
  }

  /** Waits until the byte rate allows the next span (the copies so far are paid for). */
  private async pace(): Promise<void> {
    const wait = this.nextAt - this.now();
    if (wait > 0) await this.wait(wait);
  }

  private wait(ms: number): Promise<void> {
    return Promise.race([this.sleep(ms), this.cancelSignal]);
  }
}
