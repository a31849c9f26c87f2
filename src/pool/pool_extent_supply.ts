import { NoSpaceError } from '../block/errors.ts';
import { formatBytes } from '../util/bytes.ts';
import { toRuns, type PoolAllocator } from './pool_allocator.ts';
import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import { JOURNAL_DURABLE } from './pool_journal.ts';
import { PoolClosedError } from './pool_errors.ts';
import type { PoolModel } from './pool_model.ts';
import type { PoolFile } from './pool_file.ts';

const ERASE_PARALLEL = 8;

/**
 * How a thick extent is made to own its blocks on a host filesystem. `lazy`: fallocate
 * only; ext4 and xfs then keep the blocks as unwritten extents, and the first fdatasync
 * after a write into one also converts the extent (on the benchmark VM a 4 KiB write +
 * flush into such a block cost about what a sparse file's hole does and ~1.6× a block
 * written before, docs/performance.md). `eager`: zeros are written over the extents as well (after the
 * fallocate, which still claims the space) and made durable with the provisioning
 * record, so creating a thick volume writes its whole size once; not on tmpfs, which has
 * no unwritten extents, nor on a block device.
 */
export const ThickZeroing = { lazy: 'lazy', eager: 'eager' } as const;
export type ThickZeroing = (typeof ThickZeroing)[keyof typeof ThickZeroing];
export const THICK_ZEROINGS: readonly ThickZeroing[] = [ThickZeroing.lazy, ThickZeroing.eager];

export function isThickZeroing(s: string): s is ThickZeroing {
  return (THICK_ZEROINGS as readonly string[]).includes(s);
}

let defaultThickZeroing: ThickZeroing = ThickZeroing.lazy;

/** The thick zeroing of pools from now on (the engine's `--thick-zeroing`). */
export function setThickZeroing(mode: ThickZeroing): void {
  defaultThickZeroing = mode;
}

export interface ExtentSupplyDeps {
  allocator: PoolAllocator;
  model: PoolModel;
  file: PoolFile;
  dataOffset: number;
  extentSize: number;
  /** Thin allocations reserved ahead per refill. */
  window: number;
  commit: (records: JournalRecord[], flags: number) => Promise<void>;
  /** Writes zeros over a byte range of the pool (on a file, punching where the host is full). */
  zero: (pos: number, len: number) => Promise<void>;
  /** Makes a byte range own its blocks on the host (pool files; null on a block device). */
  back: ((pos: number, len: number, what: string) => Promise<void>) | null;
  /** Gives a byte range's blocks back to the host (pool files; null on a block device). */
  unback: ((pos: number, len: number) => Promise<void>) | null;
  /** Extents went back to the free list. */
  released: () => void;
}

/**
 * Hands out zeroed pool extents. Thin allocations come from a reserve that is refilled
 * ahead of need and journaled durably before any of it is used, so an allocating write
 * can issue its data and its MAP record together. Everything that takes free extents
 * (refills and thick provisioning) runs one at a time, because it may zero never-used
 * extents and raise the high-water mark, which must only ever cover zeroed extents.
 */
export class PoolExtentSupply {
  private readonly d: ExtentSupplyDeps;
  private ready: number[] = [];
  private readyHead = 0;
  private refilling: Promise<void> | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(deps: ExtentSupplyDeps) {
    this.d = deps;
  }

  /** One reserved extent for a thin first write; rejects with NoSpaceError. */
  acquire(): Promise<number> {
    if (this.readyHead < this.ready.length) {
      const p = this.ready[this.readyHead++];
      if (this.ready.length - this.readyHead < this.d.window / 2) void this.refill().catch(() => undefined);
      return Promise.resolve(p);
    }
    return this.acquireSlow();
  }

  /**
   * Takes `count` extents (thick create or grow, a snapshot or clone copy), makes them own
   * their blocks on the host, zeroes fresh ones and commits `records(extents)` durably.
   * `what` names the request in a NoSpaceError; `flags` adds journal flags (sync-before).
   */
  provision(count: number, records: (extents: number[]) => JournalRecord[], what = 'a thick volume', flags = 0): Promise<void> {
    return this.serial(async () => {
      if (this.d.allocator.freeCount < count) this.returnReady();
      const free = this.d.allocator.freeCount;
      if (free < count) {
        const size = this.d.extentSize;
        throw new NoSpaceError(`pool lacks room for ${what}: it needs ${formatBytes(count * size)}, `
          + `${formatBytes(free * size)} is free, ${formatBytes((count - free) * size)} short`);
      }
      const ps = this.d.allocator.take(count);
      try {
        await this.backOnHost(ps, what);
        const hwm = this.d.model.hwm;
        const head = await this.zeroAboveMark(ps);
        // Those above the mark were just zeroed; the durable commit below syncs the zeros too.
        await this.writeOnHost(ps.filter((p) => p < hwm));
        await this.d.commit([...head, ...records(ps)], JOURNAL_DURABLE | flags);
      } catch (err) {
        this.release(ps);
        throw err;
      }
    });
  }

  /** Back to the free list: erased extents whose UNMAP or delete is journaled. */
  release(extents: number[]): void {
    for (const p of extents) this.d.allocator.free(p);
    if (extents.length > 0) this.d.released();
  }

  /** Writes zeros over whole extents, a few at a time. */
  async erase(extents: number[]): Promise<void> {
    const { dataOffset, extentSize } = this.d;
    for (let i = 0; i < extents.length; i += ERASE_PARALLEL) {
      await Promise.all(extents.slice(i, i + ERASE_PARALLEL).map((p) => this.d.zero(dataOffset + p * extentSize, extentSize)));
    }
  }

  /** Resolves when no refill or provisioning is in progress (for a consistent fsck). */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.chain;
      await seen;
    } while (seen !== this.chain);
  }

  /** Stops handing out extents and returns the untouched reserve (it is still zero). */
  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    this.returnReady();
  }

  private async acquireSlow(): Promise<number> {
    while (true) {
      if (this.closed) throw new PoolClosedError();
      if (this.readyHead < this.ready.length) return this.ready[this.readyHead++];
      if (this.refilling === null && this.d.allocator.freeCount === 0) throw new NoSpaceError();
      await this.refill();
    }
  }

  private refill(): Promise<void> {
    this.refilling ??= this.serial(() => this.doRefill()).finally(() => { this.refilling = null; });
    return this.refilling;
  }

  private async doRefill(): Promise<void> {
    if (this.readyHead === this.ready.length) { this.ready = []; this.readyHead = 0; }
    const want = this.d.window - (this.ready.length - this.readyHead);
    if (want <= 0 || this.closed) return;
    const ps = this.d.allocator.take(want);
    if (ps.length === 0) return;
    try {
      const records = await this.zeroAboveMark(ps);
      for (const [start, count] of toRuns(ps)) records.push({ type: RecordType.RESERVE, start, count });
      // The pool's dirty data goes to disk first, outside the journal: the fdatasync that
      // makes the refill durable (inside it, holding every other record back) then has
      // only what was written since. Under copy-ups on a disk that was 100s of ms of stall.
      await this.d.file.flush();
      // Durable before use: data may land in these extents before their MAP record does,
      // and import can only clean up extents it knows were reserved.
      await this.d.commit(records, JOURNAL_DURABLE);
    } catch (err) {
      this.release(ps);
      throw err;
    }
    this.ready.push(...ps);
  }

  /**
   * Reserved extents never handed out are pristine, so they may simply become free again
   * in memory; if the journal still lists them as reserved, import zeroes them, harmlessly.
   */
  private returnReady(): void {
    for (let i = this.readyHead; i < this.ready.length; i++) {
      this.d.model.reserved.delete(this.ready[i]);
      this.d.allocator.free(this.ready[i]);
    }
    this.ready = [];
    this.readyHead = 0;
  }

  /**
   * Allocates the extents' blocks on the host, one fallocate per run. On failure the runs
   * are punched back, best effort: they are free extents, so nothing of value is lost,
   * and the host gets back whatever part was allocated.
   */
  private async backOnHost(ps: number[], what: string): Promise<void> {
    const back = this.d.back;
    if (back === null) return;
    const { dataOffset, extentSize } = this.d;
    const runs = toRuns(ps);
    try {
      for (const [start, count] of runs) await back(dataOffset + start * extentSize, count * extentSize, what);
    } catch (err) {
      const unback = this.d.unback;
      if (unback !== null) for (const [start, count] of runs) await unback(dataOffset + start * extentSize, count * extentSize).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Eager thick zeroing: writes zeros over free extents being provisioned, so the host
   * holds them as written blocks. Only a speed-up for later flushes: a host that cannot
   * take the zeros (full) leaves the fallocated blocks as they are.
   */
  private async writeOnHost(ps: number[]): Promise<void> {
    if (defaultThickZeroing !== ThickZeroing.eager || this.d.back === null || this.d.file.onTmpfs || ps.length === 0) return;
    const { dataOffset, extentSize } = this.d;
    try {
      for (const [start, count] of toRuns(ps)) await this.d.file.zero(dataOffset + start * extentSize, count * extentSize);
    } catch (err) {
      if (!(err instanceof NoSpaceError)) throw err;
    }
  }

  /** Zeroes extents at or above the high-water mark; returns the record that raises it. */
  private async zeroAboveMark(ps: number[]): Promise<JournalRecord[]> {
    const hwm = this.d.model.hwm;
    const fresh = ps.filter((p) => p >= hwm);
    if (fresh.length === 0) return [];
    await this.erase(fresh);
    let top = hwm;
    for (const p of fresh) if (p >= top) top = p + 1;
    return [{ type: RecordType.HWM, hwm: top }];
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
