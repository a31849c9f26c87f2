import { randomInt } from 'node:crypto';
import { META_BLOCK_BYTES, type PoolLayout } from './pool_layout.ts';
import { encodeJournalBlock, packRecords, type JournalEpoch } from './pool_journal_block.ts';
import { PoolClosedError } from './pool_errors.ts';
import type { PoolFile } from './pool_file.ts';

/** fdatasync before the batch is written (zeroing it depends on must be durable first). */
export const JOURNAL_SYNC_BEFORE = 1;
/**
 * fdatasync after the batch is written, before its callers resume. On an append with no
 * records it makes a durability point instead (see PoolJournal.append).
 */
export const JOURNAL_DURABLE = 2;

interface Pending {
  records: Buffer[];
  flags: number;
  /** Takes the records' change back out of the model when they cannot be written. */
  undo: (() => void) | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function isDurabilityPoint(p: Pending): boolean {
  return p.records.length === 0 && (p.flags & JOURNAL_DURABLE) !== 0;
}

export interface JournalOptions {
  file: PoolFile;
  layout: PoolLayout;
  uuid: Buffer;
  generation: number;
  nonce: number;
  /** Serializes the metadata state (which already includes every queued record). */
  makeCheckpoint: (generation: number, nonce: number) => Buffer;
  /**
   * The epoch (generation, nonce) was not opened by this journal (an imported pool's):
   * its first write is a checkpoint, whenever that happens, never a block of that epoch.
   */
  needsCheckpoint?: boolean;
}

/**
 * The single writer of pool metadata. Callers apply a change to the in-memory model and
 * append its records here; while one journal write is in flight, later appends gather
 * and go out together in the next write (group commit). When a batch would not fit in
 * the rest of the journal, the writer writes a checkpoint of the whole state to the other
 * slot instead, fsyncs it, and starts a new epoch at block 0.
 *
 * A failed write (the host out of space, an I/O error) fails its batch and everything
 * queued behind it, whose changes are undone newest first; the journal stays usable,
 * but nothing more may go into the current epoch (a torn block could be followed by
 * records replay would never reach), so the next write is a checkpoint into a new one.
 * A journal over an epoch it did not open starts that way too (`needsCheckpoint`).
 */
export class PoolJournal {
  private readonly opts: JournalOptions;
  private readonly blockCount: number;
  private epoch: JournalEpoch;
  private head = 0;
  private queue: Pending[] = [];
  private checkpointWaiters: Pending[] = [];
  private running = false;
  /** Set when the pool closes: appends fail from then on. */
  private failure: unknown = null;
  /** The next write must be a checkpoint (after any failed write, and see `needsCheckpoint`). */
  private mustCheckpoint: boolean;

  constructor(opts: JournalOptions) {
    this.opts = opts;
    this.blockCount = opts.layout.journalBytes / META_BLOCK_BYTES;
    this.epoch = { uuid: opts.uuid, generation: opts.generation, nonce: opts.nonce };
    this.mustCheckpoint = opts.needsCheckpoint === true;
  }

  get generation(): number { return this.epoch.generation; }

  /**
   * Resolves once the records are in the journal (or in a checkpoint) per `flags`.
   *
   * With no records and JOURNAL_DURABLE it is a durability point: it resolves after an
   * fdatasync that starts once everything appended before it is written, and the journal
   * goes on writing later batches meanwhile (they asked only to be written, and replay
   * is a prefix: none of them counts without the blocks before it). Its failure fails
   * only the point itself; nothing was applied for it, so nothing is undone.
   */
  append(records: Buffer[], flags = 0, undo?: () => void): Promise<void> {
    if (this.failure !== null) {
      undo?.();
      return Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ records, flags, undo, resolve, reject });
      this.kick();
    });
  }

  /** Writes a checkpoint of the current state and starts a new epoch. */
  checkpoint(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.checkpointWaiters.push({ records: [], flags: 0, undo: undefined, resolve, reject });
      this.kick();
    });
  }

  /** Makes later appends fail; used when the pool closes. */
  shut(): void {
    this.failure ??= new PoolClosedError();
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.run();
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 || this.checkpointWaiters.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const waiters = this.checkpointWaiters;
      this.checkpointWaiters = [];
      const points = batch.filter(isDurabilityPoint);
      const writes = points.length === 0 ? batch : batch.filter((p) => !isDurabilityPoint(p));
      try {
        const blocks = packRecords(writes.flatMap((p) => p.records));
        let synced = true;
        if (writes.length === 0 && waiters.length === 0) {
          synced = false;
        } else if (this.mustCheckpoint || waiters.length > 0 || this.head + blocks.length > this.blockCount) {
          const light = !this.mustCheckpoint && waiters.length === 0 && writes.every((p) => p.flags === 0);
          synced = await this.writeCheckpoint(light);
        } else {
          synced = await this.writeBlocks(writes, blocks);
        }
        for (const p of writes) p.resolve();
        for (const w of waiters) w.resolve();
        if (points.length > 0) this.settlePoints(points, synced);
      } catch (err) {
        this.mustCheckpoint = true;
        const failed = [...batch, ...waiters, ...this.queue, ...this.checkpointWaiters];
        this.queue = [];
        this.checkpointWaiters = [];
        for (let i = failed.length - 1; i >= 0; i--) failed[i].undo?.();
        for (const p of failed) p.reject(err);
      }
    }
    this.running = false;
  }

  /**
   * Durability points behind a batch just written: resolved at once when the batch ended
   * with an fdatasync, else by one that starts now and that the loop does not wait for.
   */
  private settlePoints(points: Pending[], synced: boolean): void {
    if (synced) {
      for (const p of points) p.resolve();
      return;
    }
    this.opts.file.sync().then(() => { for (const p of points) p.resolve(); }, (err: unknown) => { for (const p of points) p.reject(err); });
  }

  /** Writes the batch; true when it ended with an fdatasync (JOURNAL_DURABLE). */
  private async writeBlocks(batch: Pending[], blocks: Buffer[][]): Promise<boolean> {
    let flags = 0;
    for (const p of batch) flags |= p.flags;
    if (flags & JOURNAL_SYNC_BEFORE) await this.opts.file.sync();
    const buf = Buffer.allocUnsafe(blocks.length * META_BLOCK_BYTES);
    for (let i = 0; i < blocks.length; i++) encodeJournalBlock(buf, i * META_BLOCK_BYTES, this.epoch, this.head + i, blocks[i]);
    const at = this.opts.layout.journalOffset + this.head * META_BLOCK_BYTES;
    this.head += blocks.length;
    await this.opts.file.write(buf, 0, buf.length, at);
    if ((flags & JOURNAL_DURABLE) === 0) return false;
    await this.opts.file.sync();
    return true;
  }

  /**
   * Writes a checkpoint and starts a new epoch; true when it ended with an fdatasync of
   * the whole file. `light` (the journal ran full under appends that asked only to be
   * written): the image states nothing the journal blocks it replaces did not, so it
   * needs no fdatasync before it, and only its own range must be durable before the new
   * epoch's blocks overwrite the old ones (PoolFile.writeDurable). Otherwise (explicit
   * checkpoints, a batch that asked for durability, a new epoch after a failure) the
   * file is synced before and after.
   */
  private async writeCheckpoint(light = false): Promise<boolean> {
    const generation = this.epoch.generation + 1;
    const nonce = randomInt(0, 0xffff_ffff);
    // Serialize first, synchronously: the image then holds exactly the records queued so
    // far, and anything appended from here on belongs to the new epoch.
    const image = this.opts.makeCheckpoint(generation, nonce);
    const l = this.opts.layout;
    if (image.length > l.slotBytes) throw new Error('checkpoint larger than its slot');
    const at = generation % 2 === 0 ? l.slotAOffset : l.slotBOffset;
    if (light) {
      await this.opts.file.writeDurable(image, at);
    } else {
      await this.opts.file.sync();
      await this.opts.file.write(image, 0, image.length, at);
      await this.opts.file.sync();
    }
    this.epoch = { uuid: this.epoch.uuid, generation, nonce };
    this.head = 0;
    this.mustCheckpoint = false;
    return !light;
  }
}
