import type { BlockDevice } from '../block/block_device.ts';
import type { RebuildMap } from './rebuild_map.ts';
import type { NexusIoGate } from './nexus_io_gate.ts';
import { RebuildCancelledError, RebuildTargetError } from './nexus_errors.ts';

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
  source: BlockDevice;
  target: BlockDevice;
  map: RebuildMap;
  gate: NexusIoGate;
  /** The target reads zeros everywhere (a new thin replica): unmapped runs need no unmap. */
  blankTarget?: boolean;
  /** Bytes per second of copied data; 0 or undefined for no limit. */
  throttleBytesPerSec?: number;
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
    for (let i = 0; i < Math.max(1, this.opts.parallel ?? 2); i++) workers.push(this.worker());
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

  private async worker(): Promise<void> {
    const map = this.opts.map;
    for (let r = map.claimRun(this.spanRegions()); r >= 0; r = map.claimRun(this.spanRegions())) {
      const n = map.claimedRun;
      if (this.cancelled) {
        for (let k = 0; k < n; k++) map.abandoned(r + k);
        throw this.cancelled;
      }
      try {
        await this.copySpan(r, n);
      } catch (err) {
        for (let k = 0; k < n; k++) map.abandoned(r + k);
        this.cancel(err as Error);
        throw err;
      }
      for (let k = 0; k < n; k++) map.finished(r + k);
      await this.pace();
    }
  }

  /** Regions per span: REBUILD_SPAN_BYTES, or under a throttle about 1/8 s of it, so pacing stays smooth. */
  private spanRegions(): number {
    const regionBytes = this.opts.map.intents.regionBlocks * this.blockSize;
    const bytes = this.throttle > 0 ? Math.min(REBUILD_SPAN_BYTES, this.throttle / 8) : REBUILD_SPAN_BYTES;
    return Math.max(1, Math.floor(bytes / regionBytes));
  }

  /**
   * Copies regions [first, first+n) under one lock. The span is cut into chunks that
   * are all read and written at once, so the source reads of later chunks overlap the
   * target writes of earlier ones; the lock is held until every chunk has settled.
   */
  private async copySpan(first: number, n: number): Promise<void> {
    const { source, target, gate, map } = this.opts;
    const lba = map.intents.regionStart(first);
    const end = map.intents.regionStart(first + n - 1) + map.intents.regionLength(first + n - 1);
    const chunk = Math.max(1, Math.floor(REBUILD_CHUNK_BYTES / this.blockSize));
    await gate.lock(lba, end - lba);
    const copies: Array<Promise<void>> = [];
    let failure: unknown;
    const note = (err: unknown): void => { failure ??= err; };
    try {
      for (let at = lba; at < end && failure === undefined;) {
        if (this.cancelled) throw this.cancelled;
        const run = source.thin ? await this.guard(source.mapStatus(at, end - at)) : { mapped: true, count: end - at };
        const len = Math.min(Math.max(1, run.count), end - at);
        if (run.mapped) {
          for (let c = at; c < at + len; c += chunk) copies.push(this.copyChunk(c, Math.min(chunk, at + len - c)).then(undefined, note));
        } else if (!this.opts.blankTarget) {
          copies.push(this.guardTarget(target.unmap(at, len)).then(undefined, note));
        }
        at += len;
      }
    } finally {
      // Never unlock while a copy of this span could still land on the target.
      await Promise.all(copies);
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
    if (source.readInto !== undefined) {
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

  /** Sleeps as long as needed to keep copied bytes under the throttle. */
  private async pace(): Promise<void> {
    if (this.throttle <= 0) return;
    const dueMs = (this.copiedBytes / this.throttle) * 1000;
    const elapsed = this.now() - this.started;
    if (dueMs > elapsed) await Promise.race([this.sleep(dueMs - elapsed), this.cancelSignal]);
  }
}
