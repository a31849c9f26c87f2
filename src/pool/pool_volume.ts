import type { BlockDevice } from '../block/block_device.ts';
import { DeviceGoneError, OutOfRangeError } from '../block/errors.ts';
import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import { allocIoBuffer, zeroBuffer, type PoolFile } from './pool_file.ts';
import type { PartialExtent, VolumeMeta } from './pool_model.ts';
import { CowGrains } from './pool_volume_cow.ts';
import { CommitPredictor } from './commit_predictor.ts';

/** What a Volume needs from its pool. */
export interface VolumeHost {
  readonly file: PoolFile;
  readonly dataOffset: number;
  readonly extentSize: number;
  /** References per pool extent: above 1, an extent is shared and a write copies up first. */
  readonly refs: Uint32Array;
  /** Partial extents (copy-up targets) by pool extent. */
  readonly partial: Map<number, PartialExtent>;
  /** Grains per extent. */
  readonly grains: number;
  /** A reserved, zeroed pool extent; rejects with NoSpaceError. */
  acquireExtent(): Promise<number>;
  /**
   * Applies records to the model now and resolves when they are journaled; extents that
   * lose their last reference are erased and freed after that, by the pool.
   */
  commit(records: JournalRecord[], flags: number): Promise<void>;
  /** A tentative grain's write has finished: the model forgets its CRC (pool_volume_cow.ts). */
  settleTentative(q: number, g: number, crc: number): void;
}

/** Counts I/O in flight so an unmap or delete can wait for what started before it. */
class IoGate {
  n = 0;
  prev: Promise<void> = Promise.resolve();
  private waiters: (() => void)[] = [];
  leave(): void {
    if (--this.n === 0 && this.waiters.length > 0) for (const w of this.waiters.splice(0)) w();
  }
  drained(): Promise<void> {
    if (this.n === 0) return this.prev;
    return Promise.all([this.prev, new Promise<void>((r) => this.waiters.push(r))]).then(() => undefined);
  }
}

const MAP_STATUS_SCAN_EXTENTS = 65536;

/**
 * Promise.all that settles only once every promise has: a write's buffer is the
 * caller's again only when no pwrite from it is left running (releasesWriteBuffers).
 */
async function settleAll(ops: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(ops);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/**
 * A logical volume: a BlockDevice over a pool. The hot path is one map lookup and one
 * positional read or write on the pool's fd per extent touched; metadata is written only
 * when a thin write lands on an extent for the first time.
 */
export class Volume implements BlockDevice {
  readonly name: string;
  readonly uuid: string;
  readonly blockSize: number;
  readonly thin: boolean;
  /**
   * `write` settles only after every pwrite from `data` has finished (the slow paths
   * wait for all their pieces even when one fails), so callers may reuse the buffer.
   */
  readonly releasesWriteBuffers = true;
  private blocks: number;
  private readonly meta: VolumeMeta;
  private readonly host: VolumeHost;
  private readonly es: number;
  private readonly dataOffset: number;
  /** First writes in flight: resolve to the pool extent once its MAP is journaled. */
  private readonly allocating = new Map<number, Promise<number>>();
  /** Extents being erased and unmapped; I/O to them waits. */
  private readonly locks = new Map<number, Promise<void>>();
  private gate = new IoGate();
  private gone = false;
  /** Set while a snapshot or clone copies this volume: writes and unmaps wait for it. */
  private held: Promise<void> | null = null;
  /** Unmaps in progress (they erase extents outside the I/O gate). */
  private readonly unmapping = new Set<Promise<void>>();
  /** Copy-up state: grain fills in progress and grains written but not yet journaled. */
  private readonly cow: CowGrains;
  /**
   * The pool file's completed-write count when this volume's latest change (data write,
   * MAP or UNMAP record) completed: a flush needs only that much of the file durable.
   * Set before the change is acknowledged. Starts at the count when the volume opened:
   * its first flush syncs unless a sync began since (FlushGroup counts a file just
   * opened as dirty).
   */
  private changedUpTo: number;
  /** Whether this volume's writes are each followed by a flush (a database's commits). */
  private readonly commits = new CommitPredictor();

  constructor(meta: VolumeMeta, host: VolumeHost) {
    this.meta = meta;
    this.host = host;
    this.name = meta.name;
    this.uuid = meta.uuid;
    this.blockSize = meta.blockSize;
    this.thin = meta.thin;
    this.blocks = meta.sizeBytes / meta.blockSize;
    this.es = host.extentSize;
    this.dataOffset = host.dataOffset;
    this.changedUpTo = host.file.writesCompleted;
    this.cow = new CowGrains(host, (buf, bo, len, at) => this.readAt(buf, bo, len, at, undefined),
      (buf, bo, len, at) => this.writeAt(buf, bo, len, at));
  }

  get blockCount(): number { return this.blocks; }

  read(lba: number, count: number): Promise<Buffer> {
    if (this.gone) return Promise.reject(new DeviceGoneError());
    if (!this.inRange(lba, count)) return Promise.reject(new OutOfRangeError());
    const pos = lba * this.blockSize;
    const len = count * this.blockSize;
    const l = Math.floor(pos / this.es);
    const off = pos - l * this.es;
    if (off + len <= this.es && this.locks.size === 0) {
      const p = this.meta.map.get(l);
      if (p < 0) return Promise.resolve(Buffer.alloc(len));
      if (this.host.partial.size !== 0 && this.host.partial.has(p)) {
        const pb = allocIoBuffer(len);
        return this.readSlow(pos, len, pb).then(() => pb);
      }
      const buf = allocIoBuffer(len);
      return this.readAt(buf, 0, len, this.dataOffset + p * this.es + off, buf);
    }
    const buf = allocIoBuffer(len);
    return this.readSlow(pos, len, buf).then(() => buf);
  }

  /** `read` into the caller's buffer; settles only after every pread into it has finished. */
  readInto(lba: number, count: number, dest: Buffer): Promise<void> {
    if (this.gone) return Promise.reject(new DeviceGoneError());
    if (!this.inRange(lba, count) || dest.length !== count * this.blockSize) return Promise.reject(new OutOfRangeError());
    const pos = lba * this.blockSize;
    const len = dest.length;
    const l = Math.floor(pos / this.es);
    const off = pos - l * this.es;
    if (off + len <= this.es && this.locks.size === 0) {
      const p = this.meta.map.get(l);
      if (p < 0) {
        dest.fill(0);
        return Promise.resolve();
      }
      if (this.host.partial.size !== 0 && this.host.partial.has(p)) return this.readSlow(pos, len, dest);
      return this.readAt(dest, 0, len, this.dataOffset + p * this.es + off, undefined);
    }
    return this.readSlow(pos, len, dest);
  }

  write(lba: number, data: Buffer, fua: boolean): Promise<void> {
    if (this.gone) return Promise.reject(new DeviceGoneError());
    if (this.held !== null) return this.held.then(() => this.write(lba, data, fua));
    const count = data.length / this.blockSize;
    if (!this.inRange(lba, count)) return Promise.reject(new OutOfRangeError());
    const pos = lba * this.blockSize;
    const len = data.length;
    const l = Math.floor(pos / this.es);
    const off = pos - l * this.es;
    if (off + len <= this.es && this.locks.size === 0 && (this.allocating.size === 0 || !this.allocating.has(l))) {
      const p = this.meta.map.get(l);
      // Only an extent this volume alone references, holding all its grains, is written in place.
      if (p >= 0 && this.host.refs[p] === 1 && (this.host.partial.size === 0 || !this.host.partial.has(p))) {
        const w = this.writeAt(data, 0, len, this.dataOffset + p * this.es + off);
        return fua ? w.then(() => this.flushFile()) : w;
      }
    }
    return this.writeSlow(pos, data, fua);
  }

  flush(): Promise<void> {
    if (this.gone) return Promise.reject(new DeviceGoneError());
    if (this.cow.pending) return this.flushGrains().then(() => this.flushFile());
    return this.flushFile();
  }

  private flushFile(): Promise<void> {
    this.commits.flushed();
    return this.host.file.flush(this.changedUpTo);
  }

  /**
   * Journals the grains written into partial extents since the last call, after an
   * fdatasync (their data is durable before the record that makes them read from there).
   */
  flushGrains(): Promise<void> {
    return this.cow.flush();
  }

  /**
   * Completes the partial extents whose base only they still reference (a snapshot that
   * shared them is gone): copies the grains they lack, then journals them, so each base
   * is freed. Runs inside the I/O gate, so an unmap or delete waits for it; stops early
   * for a snapshot hold or a delete. Resolves to the extents it completed.
   */
  async compact(): Promise<number> {
    const { refs, partial } = this.host;
    if (partial.size === 0) return 0;
    const targets: number[] = [];
    this.meta.map.forEachMapped(0, Math.ceil(this.blocks * this.blockSize / this.es), (_l, p) => {
      const part = partial.get(p);
      if (part !== undefined && refs[p] === 1 && refs[part.base] === 1) targets.push(p);
    });
    if (targets.length === 0) return 0;
    const gate = this.gate;
    gate.n++;
    try {
      for (const q of targets) await this.cow.complete(q, () => this.gone || this.held !== null);
    } finally {
      gate.leave();
    }
    if (!this.gone) await this.flushGrains();
    return targets.length;
  }

  /**
   * For a snapshot or clone of this volume, under holdWrites: the GRAINS records to put
   * in front of its share (in a *sync-before* batch), after any grain records already
   * on their way; `restore` if that batch fails.
   */
  async takeGrains(): Promise<{ records: JournalRecord[]; restore: () => void }> {
    await this.cow.settled();
    return this.cow.take();
  }

  async unmap(lba: number, count: number): Promise<void> {
    if (this.gone) throw new DeviceGoneError();
    while (this.held !== null) await this.held;
    if (!this.inRange(lba, count)) throw new OutOfRangeError();
    const job = this.unmapNow(lba, count);
    this.unmapping.add(job);
    try {
      await job;
    } finally {
      this.unmapping.delete(job);
      this.changedUpTo = this.host.file.writesCompleted;
    }
  }

  /**
   * Stops the volume changing so its extents can be copied consistently: later writes and
   * unmaps wait, and this resolves once those already started have finished. Reads go on.
   * Call the returned function to let writes through again.
   */
  async holdWrites(): Promise<() => void> {
    while (this.held !== null) await this.held;
    let release!: () => void;
    this.held = new Promise<void>((r) => { release = r; });
    await Promise.allSettled([this.drain(), ...this.unmapping]);
    return () => {
      this.held = null;
      release();
    };
  }

  private async unmapNow(lba: number, count: number): Promise<void> {
    const pos = lba * this.blockSize;
    const end = pos + count * this.blockSize;
    const volumeEnd = this.blocks * this.blockSize;
    const es = this.es;
    // Whole extents go back to the pool; a partial extent at either end is zeroed in place.
    let firstFull = Math.ceil(pos / es);
    let endFull = end === volumeEnd ? Math.ceil(end / es) : Math.floor(end / es);
    if (!this.thin || endFull <= firstFull) { firstFull = 0; endFull = 0; }
    const partial: Promise<void>[] = [];
    if (endFull > firstFull) {
      if (pos < firstFull * es) partial.push(this.zeroRange(pos, firstFull * es));
      if (end > endFull * es) partial.push(this.zeroRange(endFull * es, end));
    } else {
      partial.push(this.zeroRange(pos, end));
    }
    await Promise.all(partial);
    if (endFull > firstFull) await this.freeExtents(firstFull, endFull);
  }

  mapStatus(lba: number, count: number): Promise<{ mapped: boolean; count: number }> {
    if (this.gone) return Promise.reject(new DeviceGoneError());
    if (!this.inRange(lba, count) || count === 0) return Promise.reject(new OutOfRangeError());
    const pos = lba * this.blockSize;
    const end = pos + count * this.blockSize;
    const l = Math.floor(pos / this.es);
    const run = this.meta.map.runLength(l, Math.ceil(end / this.es), MAP_STATUS_SCAN_EXTENTS);
    const runEnd = Math.min(end, (l + run.count) * this.es);
    return Promise.resolve({ mapped: run.mapped, count: (runEnd - pos) / this.blockSize });
  }

  /** The pool grew the volume: I/O may address the new blocks from now on. */
  grow(blockCount: number): void {
    this.blocks = blockCount;
  }

  /** Deleted or pool closed: every later call rejects with DeviceGoneError. */
  markGone(): void {
    this.gone = true;
    this.cow.stop();
  }

  /** Resolves when every I/O that started before this call has finished. */
  drain(): Promise<void> {
    const old = this.gate;
    this.gate = new IoGate();
    this.gate.prev = old.drained();
    return this.gate.prev;
  }

  private inRange(lba: number, count: number): boolean {
    return Number.isInteger(lba) && Number.isInteger(count) && lba >= 0 && count >= 0 && lba + count <= this.blocks;
  }

  /** Reads into `buf` at `bo`; resolves to `result` (the buffer, or nothing for readInto). */
  private readAt<T>(buf: Buffer, bo: number, len: number, at: number, result: T): Promise<T> {
    const gate = this.gate;
    gate.n++;
    return new Promise((resolve, reject) => {
      this.host.file.readInto(buf, bo, len, at, (err) => {
        gate.leave();
        if (err === null) resolve(result); else reject(err);
      });
    });
  }

  private writeAt(data: Buffer, bo: number, len: number, at: number): Promise<void> {
    const gate = this.gate;
    gate.n++;
    return new Promise((resolve, reject) => {
      this.host.file.writeFrom(data, bo, len, at, (err) => {
        gate.leave();
        this.changedUpTo = this.host.file.writesCompleted;
        if (err === null) {
          // Nothing else of this volume in flight and a flush expected: start its sync now.
          if (this.commits.writeCompleted() && gate.n === 0) this.host.file.anticipateFlush();
          resolve();
        } else reject(err);
      });
    });
  }

  private readSlow(pos: number, len: number, buf: Buffer): Promise<void> {
    return this.eachExtent(pos, len, false, (l, off, done, n) => {
      const p = this.meta.map.get(l);
      if (p >= 0) return this.cow.read(p, off, n, buf, done);
      buf.fill(0, done, done + n);
      return undefined;
    });
  }

  private async writeSlow(pos: number, data: Buffer, fua: boolean): Promise<void> {
    await this.eachExtent(pos, data.length, true, (l, off, done, n) => this.writeSegment(l, off, data, done, n));
    if (fua) {
      if (this.cow.pending) await this.flushGrains();
      await this.flushFile();
    }
  }

  /**
   * Walks [pos, pos+len) extent by extent, waiting out locked extents, and starts `piece`
   * for each part. Settles only when every started piece has: a caller may reuse the
   * buffer once this settles (readInto, releasesWriteBuffers), so no pread/pwrite into or
   * out of it may be left. A write also waits for a running copy (`held`), which must not
   * see half of it land mid-copy.
   */
  private async eachExtent(pos: number, len: number, write: boolean, piece: (l: number, off: number, done: number, n: number) => Promise<unknown> | undefined): Promise<void> {
    const ops: Promise<unknown>[] = [];
    let failed = false;
    let failure: unknown;
    try {
      for (let done = 0; done < len;) {
        const at = pos + done;
        const l = Math.floor(at / this.es);
        const off = at - l * this.es;
        const n = Math.min(this.es - off, len - done);
        const lock = this.locks.get(l);
        if (lock !== undefined) {
          await lock;
          if (write) while (this.held !== null) await this.held;
          if (this.gone) throw new DeviceGoneError();
          continue;
        }
        const op = piece(l, off, done, n);
        if (op !== undefined) ops.push(op);
        done += n;
      }
    } catch (err) {
      failed = true;
      failure = err;
    }
    await settleAll(ops);
    if (failed) throw failure;
  }

  private writeSegment(l: number, off: number, data: Buffer, bo: number, n: number): Promise<void> {
    const pending = this.allocating.size === 0 ? undefined : this.allocating.get(l);
    if (pending !== undefined) return this.writeAfterAllocation(pending, l, off, data, bo, n);
    const p = this.meta.map.get(l);
    if (p < 0) return this.allocateAndWrite(l, off, data, bo, n);
    if (this.host.refs[p] > 1) return this.copyUpAndWrite(l, p, off, data, bo, n);
    if (this.host.partial.size !== 0 && this.host.partial.has(p)) return this.writePartial(p, off, data, bo, n);
    return this.writeAt(data, bo, n, this.dataOffset + p * this.es + off);
  }

  /**
   * A write into a partial extent, inside the I/O gate for its whole course: it may wait
   * for a grain lock or read the base before it writes, and a snapshot's drain must not
   * find the gate empty meanwhile and share the extent under it.
   */
  private async writePartial(q: number, off: number, data: Buffer, bo: number, n: number): Promise<void> {
    const gate = this.gate;
    gate.n++;
    try {
      await this.cow.write(q, off, data, bo, n);
    } finally {
      gate.leave();
    }
  }

  /** Another write is allocating (or copying up) this extent: wait for its record, then write. */
  private async writeAfterAllocation(pending: Promise<number>, l: number, off: number, data: Buffer, bo: number, n: number): Promise<void> {
    const gate = this.gate;
    gate.n++;
    try {
      await pending;
      await this.writeSegment(l, off, data, bo, n);
    } finally {
      gate.leave();
    }
  }

  /**
   * First write to a shared extent: a fresh zeroed extent `q` takes its place in the map
   * (COPYUP record: unset grains of q read `base`), and the write fills only the grains it
   * touches — a 4 KiB write costs a 4 KiB write, never a copy of the extent. Other writes
   * to this logical extent wait for the record, as with a first allocation.
   */
  private copyUpAndWrite(l: number, base: number, off: number, data: Buffer, bo: number, n: number): Promise<void> {
    return this.takeExtent(l, (q) => ({ type: RecordType.COPYUP, vol: this.meta.id, l, q, base }),
      (q) => this.cow.write(q, off, data, bo, n));
  }

  /**
   * First write to an extent. The extent comes from the pool's durable reserve (zeroed),
   * so the data write and the MAP record can go out together: if the process dies with
   * only the data written, import finds the extent reserved but unmapped and zeroes it.
   */
  private allocateAndWrite(l: number, off: number, data: Buffer, bo: number, n: number): Promise<void> {
    return this.takeExtent(l, (p) => ({ type: RecordType.MAP, vol: this.meta.id, l, p, count: 1 }),
      (p) => this.writeAt(data, bo, n, this.dataOffset + p * this.es + off));
  }

  /** Takes a reserved extent for logical extent `l`, journals `record(p)` and writes, together. */
  private async takeExtent(l: number, record: (p: number) => JournalRecord, write: (p: number) => Promise<void>): Promise<void> {
    const gate = this.gate;
    gate.n++;
    let settle!: (p: number) => void;
    let fail!: (err: unknown) => void;
    const entry = new Promise<number>((res, rej) => { settle = res; fail = rej; });
    entry.catch(() => undefined);
    this.allocating.set(l, entry);
    try {
      const p = await this.host.acquireExtent();
      const committed = this.host.commit([record(p)], 0);
      const written = write(p);
      committed.then(() => {
        this.allocating.delete(l);
        settle(p);
      }, () => undefined);
      await settleAll([committed, written]);
      this.changedUpTo = this.host.file.writesCompleted;
    } catch (err) {
      if (this.allocating.get(l) === entry) this.allocating.delete(l);
      fail(err);
      throw err;
    } finally {
      gate.leave();
    }
  }

  /** Writes zeros over a byte range inside mapped extents (unmapped ones already read as zeros). */
  private async zeroRange(from: number, to: number): Promise<void> {
    const z = zeroBuffer();
    const ops: Promise<void>[] = [];
    for (let at = from; at < to;) {
      const l = Math.floor(at / this.es);
      const n = Math.min(to - at, (l + 1) * this.es - at, z.length);
      if (this.meta.map.get(l) >= 0 || this.allocating.has(l)) {
        ops.push(this.writeSlow(at, n === z.length ? z : z.subarray(0, n), false));
      }
      at += n;
    }
    await Promise.all(ops);
  }

  /**
   * Drops whole extents [first, end): lock them, wait for I/O already issued, then journal
   * the UNMAP. An extent another map or a partial extent still references just loses a
   * reference; one that loses its last is erased and freed by the pool once the record is
   * durable (docs/pool-format.md §7).
   */
  private async freeExtents(first: number, end: number): Promise<void> {
    const targets: number[] = [];
    this.meta.map.forEachMapped(first, end, (l) => targets.push(l));
    for (const l of this.allocating.keys()) if (l >= first && l < end && !targets.includes(l)) targets.push(l);
    if (targets.length === 0) return;
    targets.sort((a, b) => a - b);
    const unlocks: (() => void)[] = [];
    for (const l of targets) {
      for (let held = this.locks.get(l); held !== undefined; held = this.locks.get(l)) await held;
      this.locks.set(l, new Promise<void>((r) => unlocks.push(() => { this.locks.delete(l); r(); })));
    }
    let committed: Promise<void> = Promise.resolve();
    try {
      await this.drain();
      const mapped = targets.filter((l) => this.meta.map.get(l) >= 0);
      const records: JournalRecord[] = [];
      for (const l of mapped) {
        const last = records[records.length - 1];
        if (last !== undefined && last.type === RecordType.UNMAP && last.l + last.count === l) last.count++;
        else records.push({ type: RecordType.UNMAP, vol: this.meta.id, l, count: 1 });
      }
      if (records.length > 0) committed = this.host.commit(records, 0);
    } finally {
      for (const u of unlocks) u();
    }
    await committed;
  }
}
