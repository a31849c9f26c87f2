import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import { JOURNAL_DURABLE } from './pool_journal.ts';
import { allocIoBuffer, type PoolFile } from './pool_file.ts';
import { MAX_GRAINS, hasGrain, hasUnrecorded, setGrain } from './pool_grains.ts';
import { grainCrc } from './pool_tentative.ts';
import type { PartialExtent } from './pool_model.ts';

/** What the copy-up paths need from the pool. */
export interface CowHost {
  readonly file: PoolFile;
  readonly dataOffset: number;
  readonly extentSize: number;
  readonly grains: number;
  readonly partial: Map<number, PartialExtent>;
  commit(records: JournalRecord[], flags: number): Promise<void>;
  /** A tentative grain's write has finished (or failed): the model forgets that CRC. */
  settleTentative(q: number, g: number, crc: number): void;
}

/** Grains written but not recorded are recorded this long after the first of them at the latest. */
const GRAIN_RECORD_DELAY_MS = 1000;

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
 * and sets its live bit; the bits reach the journal as a GRAINS record at the volume's
 * next flush (or a second later), after an fdatasync, so that record never precedes its data.
 *
 * Until then a grain is *tentative* (format 5): every write to it first journals a TGRAIN
 * record, unsynced, with the CRC-32 of what the grain will hold, and is acknowledged only
 * once record and data are written. kill -9 keeps both in the page cache, so import finds
 * the data matching a record and keeps the grain; a power loss that kept the record but
 * not the data fails the check and the grain reads its base (pool_tentative.ts). A fill
 * writes record and data together (if only the data lands, the grain was never claimed);
 * a later write to a tentative grain writes its record first, so the data on disk always
 * matches one of the grain's last two records.
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
  /** Partial extents whose GRAINS record is being written: their grains stay tentative until it is. */
  private readonly committing = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  /** TGRAIN records waiting for this turn of the event loop to end (see claim). */
  private claims: { records: JournalRecord[]; done: Promise<void> } | null = null;

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
      if (this.recorded(q, part, g)) {
        while (e < end && this.recorded(q, part, e / gb)) e = Math.min(end, e + gb);
        ops.push(this.writeAt(data, bo + o - off, e - o, at + o));
      } else if (hasGrain(part.live, g)) {
        ops.push(this.rewrite(q, part, g, o, data, bo + o - off, e - o));
      } else {
        ops.push(this.fill(q, part, g, o, data, bo + o - off, e - o));
      }
      o = e;
    }
    if (ops.length === 1) await ops[0]; else await settleAll(ops);
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
   * them back if the batch they go into fails. The grains' data must be durable before
   * the batch is written (a *sync-before* batch, or an fdatasync that started after this).
   */
  take(): { records: JournalRecord[]; restore: () => void } {
    const taken = [...this.dirty];
    this.dirty.clear();
    const records: JournalRecord[] = [];
    for (const [q, part] of taken) {
      // Gone (unmapped, or every grain recorded already): nothing of it to record.
      if (this.h.partial.get(q) !== part) continue;
      if (hasUnrecorded(part.live, part.bits)) records.push({ type: RecordType.GRAINS, q, bits: part.live.slice() });
    }
    return { records, restore: () => { for (const [q, part] of taken) if (!this.dirty.has(q)) this.dirty.set(q, part); } };
  }

  /** Stops the delayed recording (the volume is closing or gone). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private async commitDirty(): Promise<void> {
    const { records, restore } = this.take();
    if (records.length === 0) return;
    // The model counts these grains recorded from now on, but the record is not written
    // yet: writes to them stay tentative (record first) until it is.
    const qs = records.map((r) => (r as { q: number }).q);
    for (const q of qs) this.committing.set(q, (this.committing.get(q) ?? 0) + 1);
    const done = (): void => {
      for (const q of qs) {
        const n = (this.committing.get(q) ?? 1) - 1;
        if (n === 0) this.committing.delete(q); else this.committing.set(q, n);
      }
    };
    try {
      // The grains' data durable first, by an fdatasync outside the journal: the records
      // of other writes (copy-ups, allocations) go on being written meanwhile.
      await this.h.file.flush();
      await this.h.commit(records, 0);
    } catch (err) {
      restore();
      done();
      throw err;
    }
    // Then durable itself (a durability point: the journal does not wait for it) before
    // a write goes in place over these grains. If that fdatasync fails they stay tentative.
    await this.h.commit([], JOURNAL_DURABLE);
    done();
  }

  /** Grain g of q is in a GRAINS record already written: plain writes in place from here on. */
  private recorded(q: number, part: PartialExtent, g: number): boolean {
    return hasGrain(part.bits, g) && (this.committing.size === 0 || !this.committing.has(q));
  }

  /** A grain became tentative: have it recorded soon even if the initiator never flushes. */
  private noteTentative(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      // A failure here is the next flush's to report (its batch is restored and retried).
      this.flush().catch(() => undefined);
    }, GRAIN_RECORD_DELAY_MS);
    this.timer.unref();
  }

  /**
   * Journals a TGRAIN record for grain g of q holding `crc`, unsynced. Claims made in one
   * turn of the event loop go out as one commit: on tmpfs a pool write completes inline,
   * so the journal would otherwise write (and checksum) a block per claim.
   */
  private claim(q: number, g: number, crc: number): Promise<void> {
    const rec: JournalRecord = { type: RecordType.TGRAIN, q, g, crc };
    if (this.claims !== null) {
      this.claims.records.push(rec);
      return this.claims.done;
    }
    const records = [rec];
    let go!: () => void;
    const done = new Promise<void>((r) => { go = r; }).then(() => {
      this.claims = null;
      return this.h.commit(records, 0);
    });
    this.claims = { records, done };
    setImmediate(go);
    return done;
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
      await this.locked(q * MAX_GRAINS + g, async () => {
        if (hasGrain(part.live, g) || this.h.partial.get(q) !== part) return;
        await this.read(part.base, g * gb, gb, buf, 0);
        await this.writeAt(buf, 0, gb, this.h.dataOffset + q * this.h.extentSize + g * gb);
        setGrain(part.live, g);
        this.dirty.set(q, part);
      });
    }
  }

  /** Runs `fn` holding grain `key`'s lock: fills, rewrites and completions of one grain run one at a time. */
  private async locked(key: number, fn: () => Promise<void>): Promise<void> {
    for (let busy = this.filling.get(key); busy !== undefined; busy = this.filling.get(key)) await busy;
    let done!: () => void;
    this.filling.set(key, new Promise<void>((r) => { done = r; }));
    try {
      await fn();
    } finally {
      this.filling.delete(key);
      done();
    }
  }

  /** First write to grain `g` of `q`: the whole grain is written (merged with the base's when partly covered). */
  private fill(q: number, part: PartialExtent, g: number, o: number, data: Buffer, bo: number, len: number): Promise<void> {
    return this.locked(q * MAX_GRAINS + g, async () => {
      // Filled while this write waited: now it is a write to a grain of q's own.
      if (hasGrain(part.live, g)) return this.rewriteLocked(q, part, g, o, data, bo, len);
      const gb = this.gb;
      let buf = data;
      let from = bo;
      if (len !== gb) {
        buf = allocIoBuffer(gb);
        from = 0;
        await this.read(part.base, g * gb, gb, buf, 0);
        data.copy(buf, o - g * gb, bo, bo + len);
      }
      const crc = grainCrc(buf, from, gb);
      try {
        // Record and data together; the write settles only once both have (callers reuse `data`).
        const claimed = this.claim(q, g, crc);
        try {
          await this.writeAt(buf, from, gb, this.h.dataOffset + q * this.h.extentSize + g * gb);
        } catch (err) {
          await claimed.catch(() => undefined);
          throw err;
        }
        await claimed;
        setGrain(part.live, g);
        this.dirty.set(q, part);
        this.noteTentative();
      } finally {
        this.h.settleTentative(q, g, crc);
      }
    });
  }

  /** A write to a grain `q` holds already but has not recorded yet (see rewriteLocked). */
  private rewrite(q: number, part: PartialExtent, g: number, o: number, data: Buffer, bo: number, len: number): Promise<void> {
    return this.locked(q * MAX_GRAINS + g, () => this.rewriteLocked(q, part, g, o, data, bo, len));
  }

  /**
   * Under the grain's lock: the TGRAIN record of the grain's new contents first, then
   * the bytes. Only the written range goes to the file, so a plain write elsewhere in the
   * grain (once its record lands) is never overwritten with stale bytes.
   */
  private async rewriteLocked(q: number, part: PartialExtent, g: number, o: number, data: Buffer, bo: number, len: number): Promise<void> {
    const at = this.h.dataOffset + q * this.h.extentSize;
    if (this.recorded(q, part, g)) return this.writeAt(data, bo, len, at + o);
    const gb = this.gb;
    let crc: number;
    if (len === gb) {
      crc = grainCrc(data, bo, gb);
    } else {
      const merged = allocIoBuffer(gb);
      await this.readAt(merged, 0, gb, at + g * gb);
      data.copy(merged, o - g * gb, bo, bo + len);
      crc = grainCrc(merged, 0, gb);
    }
    try {
      await this.claim(q, g, crc);
      await this.writeAt(data, bo, len, at + o);
    } finally {
      this.h.settleTentative(q, g, crc);
    }
  }
}
