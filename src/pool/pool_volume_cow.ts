import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import { JOURNAL_DURABLE, JOURNAL_SYNC_BEFORE } from './pool_journal.ts';
import { allocIoBuffer } from './pool_file.ts';
import { MAX_GRAINS, hasGrain, setGrain } from './pool_grains.ts';
import type { PartialExtent } from './pool_model.ts';

/** What the copy-up paths need from the pool. */
export interface CowHost {
  readonly dataOffset: number;
  readonly extentSize: number;
  readonly grains: number;
  readonly partial: Map<number, PartialExtent>;
  commit(records: JournalRecord[], flags: number): Promise<void>;
}

type Io = (buf: Buffer, bo: number, len: number, at: number) => Promise<void>;

async function settleAll(ops: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(ops);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/**
 * One volume's reads and writes of partial extents (format 4, docs/pool-format.md §12).
 * A grain not yet its own reads from the extent's base, following the chain. The first
 * write to a grain fills it whole (a write smaller than the grain merges with the base's
 * grain, under a per-grain lock so two small writes to one grain never undo each other)
 * and sets its live bit; the bits reach the journal at the volume's next flush, after an
 * fdatasync, so a grain's record never precedes its data.
 */
export class CowGrains {
  private readonly h: CowHost;
  private readonly readAt: Io;
  private readonly writeAt: Io;
  private readonly gb: number;
  /** Grain fills in progress, by q * MAX_GRAINS + grain. */
  private readonly filling = new Map<number, Promise<void>>();
  /** Partial extents with live bits the journal does not have yet. */
  private readonly dirty = new Map<number, PartialExtent>();
  private readonly inflight = new Set<Promise<void>>();

  constructor(host: CowHost, readAt: Io, writeAt: Io) {
    this.h = host;
    this.readAt = readAt;
    this.writeAt = writeAt;
    this.gb = host.extentSize / host.grains;
  }

  /** Grain bits wait for a flush (or one is being journaled). */
  get pending(): boolean {
    return this.dirty.size > 0 || this.inflight.size > 0;
  }

  /** Reads [off, off+n) of pool extent `p` into `buf` at `bo`, through partial bases. */
  read(p: number, off: number, n: number, buf: Buffer, bo: number): Promise<void> {
    const ops: Promise<void>[] = [];
    this.collect(p, off, n, buf, bo, ops, 0);
    return ops.length === 1 ? ops[0] : settleAll(ops);
  }

  /** Writes [off, off+n) of partial extent `q` (or a plain one, once it holds every grain). */
  async write(q: number, off: number, data: Buffer, bo: number, n: number): Promise<void> {
    const at = this.h.dataOffset + q * this.h.extentSize;
    const part = this.h.partial.get(q);
    if (part === undefined) return this.writeAt(data, bo, n, at + off);
    const gb = this.gb;
    const ops: Promise<void>[] = [];
    const end = off + n;
    for (let o = off; o < end;) {
      const g = Math.floor(o / gb);
      let e = Math.min(end, (g + 1) * gb);
      if (hasGrain(part.live, g)) {
        while (e < end && hasGrain(part.live, e / gb)) e = Math.min(end, e + gb);
        ops.push(this.writeAt(data, bo + o - off, e - o, at + o));
      } else {
        ops.push(this.fill(q, part, g, o, data, bo + o - off, e - o));
      }
      o = e;
    }
    await settleAll(ops);
  }

  /** Journals the live bits the journal lacks; resolves once every grain record so far is durable. */
  flush(): Promise<void> {
    const ops = [...this.inflight];
    if (this.dirty.size > 0) {
      const job = this.commitDirty();
      this.inflight.add(job);
      const done = (): void => { this.inflight.delete(job); };
      job.then(done, done);
      ops.push(job);
    }
    return settleAll(ops);
  }

  /** Resolves once the grain records already on their way are journaled (or failed). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  /**
   * The GRAINS records a flush would write now, out of the pending set; `restore` puts
   * them back if the batch they go into fails. The batch must be *sync-before*.
   */
  take(): { records: JournalRecord[]; restore: () => void } {
    const taken = [...this.dirty];
    this.dirty.clear();
    const records: JournalRecord[] = [];
    for (const [q, part] of taken) {
      // Gone (unmapped, or every grain recorded already): nothing of it to record.
      if (this.h.partial.get(q) !== part) continue;
      let news = false;
      for (let w = 0; w < part.live.length; w++) if ((part.live[w] & ~part.bits[w]) !== 0) news = true;
      if (news) records.push({ type: RecordType.GRAINS, q, bits: part.live.slice() });
    }
    return { records, restore: () => { for (const [q, part] of taken) if (!this.dirty.has(q)) this.dirty.set(q, part); } };
  }

  private async commitDirty(): Promise<void> {
    const { records, restore } = this.take();
    if (records.length === 0) return;
    try {
      await this.h.commit(records, JOURNAL_SYNC_BEFORE | JOURNAL_DURABLE);
    } catch (err) {
      restore();
      throw err;
    }
  }

  private collect(p: number, off: number, n: number, buf: Buffer, bo: number, ops: Promise<void>[], depth: number): void {
    const at = this.h.dataOffset + p * this.h.extentSize;
    const part = this.h.partial.get(p);
    if (part === undefined || depth > this.h.partial.size) {
      ops.push(this.readAt(buf, bo, n, at + off));
      return;
    }
    const gb = this.gb;
    const end = off + n;
    for (let o = off; o < end;) {
      const g = Math.floor(o / gb);
      const own = hasGrain(part.live, g);
      let e = Math.min(end, (g + 1) * gb);
      while (e < end && hasGrain(part.live, e / gb) === own) e = Math.min(end, e + gb);
      if (own) ops.push(this.readAt(buf, bo + o - off, e - o, at + o));
      else this.collect(part.base, o, e - o, buf, bo + o - off, ops, depth + 1);
      o = e;
    }
  }

  /**
   * Copies every grain `q` does not hold yet from its base into it, so the next flush
   * records them all and the base loses this reference (and is freed when that was its
   * last). The data each reader sees does not change, so it is safe even if a share of
   * `q` races it; it stops when `q` stops being partial or `stop()` says so.
   */
  async complete(q: number, stop: () => boolean): Promise<void> {
    const part = this.h.partial.get(q);
    if (part === undefined) return;
    const gb = this.gb;
    const buf = allocIoBuffer(gb);
    for (let g = 0; g < this.h.grains; g++) {
      if (stop() || this.h.partial.get(q) !== part) return;
      if (hasGrain(part.live, g)) continue;
      const key = q * MAX_GRAINS + g;
      for (let busy = this.filling.get(key); busy !== undefined; busy = this.filling.get(key)) await busy;
      if (hasGrain(part.live, g) || this.h.partial.get(q) !== part) continue;
      let done!: () => void;
      this.filling.set(key, new Promise<void>((r) => { done = r; }));
      try {
        await this.read(part.base, g * gb, gb, buf, 0);
        await this.writeAt(buf, 0, gb, this.h.dataOffset + q * this.h.extentSize + g * gb);
        setGrain(part.live, g);
        this.dirty.set(q, part);
      } finally {
        this.filling.delete(key);
        done();
      }
    }
  }

  /** First write to grain `g` of `q`: the whole grain is written (merged with the base's when partly covered). */
  private async fill(q: number, part: PartialExtent, g: number, o: number, data: Buffer, bo: number, len: number): Promise<void> {
    const key = q * MAX_GRAINS + g;
    for (let busy = this.filling.get(key); busy !== undefined; busy = this.filling.get(key)) await busy;
    const at = this.h.dataOffset + q * this.h.extentSize;
    if (hasGrain(part.live, g)) return this.writeAt(data, bo, len, at + o);
    let done!: () => void;
    this.filling.set(key, new Promise<void>((r) => { done = r; }));
    try {
      const gb = this.gb;
      if (len === gb) {
        await this.writeAt(data, bo, len, at + o);
      } else {
        const merged = allocIoBuffer(gb);
        await this.read(part.base, g * gb, gb, merged, 0);
        data.copy(merged, o - g * gb, bo, bo + len);
        await this.writeAt(merged, 0, gb, at + g * gb);
      }
      setGrain(part.live, g);
      this.dirty.set(q, part);
    } finally {
      this.filling.delete(key);
      done();
    }
  }
}
