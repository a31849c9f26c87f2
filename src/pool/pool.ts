import fs from 'node:fs';
import { randomInt, randomUUID } from 'node:crypto';
import type { Logger } from '../util/log.ts';
import { silentLogger } from '../util/log.ts';
import type { PoolInfo, VolumeInfo, PoolCreateOptions, PoolImportOptions } from './pool_types.ts';
import type { PoolFile } from './pool_file.ts';
import { openExclusive, ownPool } from './pool_open.ts';
import type { PoolOwnership } from './pool_owner.ts';
import type { DeviceGoneError } from '../block/errors.ts';
import { PoolAllocator } from './pool_allocator.ts';
import { PoolExtentSupply } from './pool_extent_supply.ts';
import { PoolModel, type PartialExtent, type VolumeMeta } from './pool_model.ts';
import { allocatedRanges, deltaRanges, type ByteRange } from './pool_delta.ts';
import { PoolJournal, JOURNAL_DURABLE } from './pool_journal.ts';
import { RecordType, encodeRecord, mapRuns, type JournalRecord } from './pool_journal_record.ts';
import { encodeCheckpoint } from './pool_checkpoint.ts';
import { encodeSuperblock, SB_FLAG_DEVICE_NOT_ZEROED, type Superblock } from './pool_superblock.ts';
import { computeLayout, DEFAULT_EXTENT_SIZE, validateExtentSize, META_BLOCK_BYTES, POOL_FORMAT_VERSION, reserveWindow, SUPERBLOCK_BYTES } from './pool_layout.ts';
import { loadPool, readSuperblock, upgradeSuperblock } from './pool_import.ts';
import { openCreateTarget } from './pool_create.ts';
import { PROBE_BYTES } from './pool_signature.ts';
import { isValidName, uuidToBytes } from './pool_bytes.ts';
import { verifyPool, type PoolCheckReport } from './pool_verify.ts';
import { PoolSpaceWatch } from './pool_space_watch.ts';
import { backRange, hostSpace, isRegularFile, punchRange, zeroOrPunch } from './pool_host_space.ts';
import { Volume, type VolumeHost } from './pool_volume.ts';
import { recoverAfterReplay, referencedExtents } from './pool_recover.ts';
import { PoolSnapshots, type SnapshotInfo } from './pool_snapshots.ts';
import {
  InvalidNameError, InvalidSizeError, PoolClosedError, PoolInUseError, PoolNotEmptyError, ShrinkNotSupportedError,
  SnapshotNotFoundError, TooManyVolumesError, VolumeExistsError, VolumeNotFoundError,
} from './pool_errors.ts';

export type { ByteRange } from './pool_delta.ts';

export type { PoolInfo, VolumeInfo, PoolCreateOptions, PoolImportOptions } from './pool_types.ts';

/** Volumes are capped at 1 PiB and 2^32 - 1 extents (logical extents are 32-bit on disk). */
const MAX_VOLUME_BYTES = 2 ** 50;

/**
 * A storage pool on a file or block device: volumes carved from fixed-size extents,
 * metadata in two checkpoint slots plus a journal (docs/pool-format.md).
 */
export class Pool implements VolumeHost {
  readonly path: string;
  readonly file: PoolFile;
  readonly dataOffset: number;
  readonly extentSize: number;
  private readonly sb: Superblock;
  private readonly model: PoolModel;
  private readonly allocator: PoolAllocator;
  private readonly journal: PoolJournal;
  private readonly log: Logger;
  private readonly supply: PoolExtentSupply;
  private readonly volumes = new Map<number, Volume>();
  private readonly pendingNames = new Set<string>();
  private readonly deletions = new Map<string, Promise<void>>();
  private readonly snaps: PoolSnapshots;
  /** The running (or last) compact pass. */
  private compacting: Promise<void> = Promise.resolve();
  /** Erases of orphaned extents in progress. */
  private readonly reaping = new Set<Promise<void>>();
  private readonly space: PoolSpaceWatch;
  /** A regular file, whose filesystem may run out of blocks (a block device cannot). */
  private readonly onFile: boolean;
  /** Serializes resizes and the start of deletes. */
  private metaChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | null = null;
  private ownership: PoolOwnership | null = null;

  private constructor(path: string, file: PoolFile, sb: Superblock, model: PoolModel, allocator: PoolAllocator,
    generation: number, logger: Logger) {
    this.path = path;
    this.file = file;
    this.sb = sb;
    this.model = model;
    this.allocator = allocator;
    this.dataOffset = sb.layout.dataOffset;
    this.extentSize = sb.layout.extentSize;
    this.onFile = isRegularFile(file);
    this.log = logger.child({ component: 'pool', pool: sb.name });
    this.space = new PoolSpaceWatch({ file, path, needBytes: this.extentSize, log: this.log });
    this.supply = new PoolExtentSupply({
      allocator, model, file, dataOffset: this.dataOffset, extentSize: this.extentSize,
      window: reserveWindow(this.extentSize), commit: (records, flags) => this.commit(records, flags),
      zero: (pos, len) => (this.onFile ? zeroOrPunch(file, path, pos, len) : file.zero(pos, len)),
      back: this.onFile ? (pos, len, what) => this.backOnHost(pos, len, what) : null,
      unback: this.onFile ? async (pos, len) => { await punchRange(path, pos, len); } : null,
      released: () => this.noteFull(),
    });
    this.snaps = new PoolSnapshots({
      model, supply: this.supply, extentSize: this.extentSize,
      maxEntries: sb.layout.maxVolumes, slotBytes: sb.layout.slotBytes, log: this.log,
      commit: (records, flags) => this.commit(records, flags),
      openVolume: (name) => this.openVolume(name),
      claimName: (name) => {
        if (this.model.byName.has(name) || this.pendingNames.has(name)) throw new VolumeExistsError(name);
        this.pendingNames.add(name);
        return () => this.pendingNames.delete(name);
      },
      checkVolumeSize: (size, blockSize) => this.checkVolumeSize(size, blockSize),
    });
    this.journal = new PoolJournal({
      file, layout: sb.layout, uuid: uuidToBytes(sb.uuid), generation, nonce: 0, needsCheckpoint: true,
      makeCheckpoint: (gen, nonce) => encodeCheckpoint(this.model, this.sb.uuid, gen, nonce),
    });
  }

  static async create(path: string, opts: PoolCreateOptions): Promise<Pool> {
    if (!isValidName(opts.name)) throw new InvalidNameError();
    validateExtentSize(opts.extentSize ?? DEFAULT_EXTENT_SIZE);
    const target = await openCreateTarget(path, opts.sizeBytes, opts.force === true);
    try {
      const l = computeLayout(target.poolBytes, opts.extentSize ?? DEFAULT_EXTENT_SIZE, opts.journalBytes);
      // Metadata must never wait for host blocks (a journal write refused mid-batch would
      // stop the pool's metadata); a thick pool owns every block from the start.
      if (isRegularFile(target.file)) {
        const thick = opts.thick === true;
        await backRange(target.file, path, 0, thick ? target.poolBytes : l.dataOffset,
          thick ? `thick pool ${opts.name} (${target.poolBytes} bytes)` : `the metadata of pool ${opts.name}`, true);
      }
      const sb: Superblock = {
        formatVersion: POOL_FORMAT_VERSION, uuid: randomUUID(), name: opts.name, createdAtMs: Date.now(),
        flags: target.zeroed ? 0 : SB_FLAG_DEVICE_NOT_ZEROED, layout: l,
      };
      const model = new PoolModel(l.extentCount, l.extentSize);
      model.hwm = target.zeroed ? l.extentCount : 0;
      // Checkpoint 1 goes to slot B; slot A is wiped so stale contents cannot win.
      const image = encodeCheckpoint(model, sb.uuid, 1, randomInt(0, 0xffff_ffff));
      await target.file.write(Buffer.alloc(META_BLOCK_BYTES), 0, META_BLOCK_BYTES, l.slotAOffset);
      await target.file.write(image, 0, image.length, l.slotBOffset);
      await target.file.sync();
      // The superblock goes last: a crash before this leaves no pool rather than half of one.
      const sbBuf = encodeSuperblock(sb);
      await target.file.write(sbBuf, 0, SUPERBLOCK_BYTES, 0);
      await target.file.write(sbBuf, 0, SUPERBLOCK_BYTES, SUPERBLOCK_BYTES);
      await target.file.sync();
      const log = opts.logger ?? silentLogger();
      const ownership = await ownPool({ path, file: target.file, uuid: sb.uuid, fresh: true, options: opts.ownership, logger: log });
      const pool = new Pool(path, target.file, sb, model, new PoolAllocator(l.extentCount), 1, log);
      pool.ownership = ownership;
      // Start a fresh epoch so the journal's first block is never ambiguous.
      await pool.journal.checkpoint();
      pool.log.info({ extentSize: l.extentSize, extents: l.extentCount, zeroed: target.zeroed }, 'pool created');
      return pool;
    } catch (err) {
      await target.file.close().catch(() => undefined);
      if (target.created) fs.rmSync(path, { force: true });
      throw err;
    }
  }

  /**
   * Imports a pool once this process owns it (docs/pool-format.md "Ownership"): another
   * live engine's pool is refused with POOL_IN_USE, a dead one's taken over.
   */
  static async import(path: string, opts: PoolImportOptions = {}): Promise<Pool> {
    const file = await openExclusive(path);
    const log = opts.logger ?? silentLogger();
    let ownership: PoolOwnership | undefined;
    try {
      const head = await readSuperblock(file);
      ownership = await ownPool({ path, file, uuid: head.uuid, fresh: false, options: opts.ownership, logger: log });
      const loaded = await loadPool(file);
      const { model } = loaded;
      const owner = ownership;
      const sb = await upgradeSuperblock(file, loaded.sb, (head) => owner.writeSuperblockHead(head));
      const allocator = referencedExtents(model, sb.layout.extentCount);
      const pool = new Pool(path, file, sb, model, allocator, loaded.generation, log);
      pool.ownership = ownership;
      if (loaded.skippedTornSlot) pool.log.warn('newest checkpoint slot failed its checksum; imported from the older one');
      // Pools made before metadata was backed at create get it now, if the host has room.
      // Never zeros here: this range holds the pool's metadata.
      if (pool.onFile) await backRange(file, path, 0, sb.layout.dataOffset, 'pool metadata', false).catch(() => undefined);
      await recoverAfterReplay({
        model, snaps: pool.snaps, supply: pool.supply, allocator, journal: pool.journal, log: pool.log, dataOffset: pool.dataOffset,
        read: (buf, len, at) => file.read(buf, 0, len, at), commit: (records, flags) => pool.commit(records, flags),
      }, loaded.replayedBlocks);
      pool.space.checkHost();
      pool.noteFull();
      return pool;
    } catch (err) {
      await ownership?.release().catch(() => undefined);
      await file.close().catch(() => undefined);
      // A rival's claim landed while this import was loading: it lost the race, cleanly.
      if (ownership?.lostTo !== undefined) throw new PoolInUseError(ownership.lostTo, 'it claimed the pool at the same time');
      throw err;
    }
  }

  info(): PoolInfo {
    let provisioned = 0;
    for (const v of this.model.volumes.values()) provisioned += v.sizeBytes;
    // Shared extents count once: used = referenced (allocated and not in the reserve).
    const owned = this.allocator.usedCount - this.model.reserved.size;
    const capacity = this.sb.layout.extentCount * this.extentSize;
    return {
      name: this.sb.name, uuid: this.sb.uuid, path: this.path, formatVersion: this.sb.formatVersion,
      extentSize: this.extentSize, capacityBytes: capacity, usedBytes: owned * this.extentSize,
      freeBytes: capacity - owned * this.extentSize, volumeCount: this.model.volumes.size, thinProvisionedBytes: provisioned,
      ...this.space.view(),
    };
  }

  listVolumes(): VolumeInfo[] {
    return [...this.model.volumes.values()].filter((v) => !v.filling).map((v) => this.describe(v));
  }

  volumeInfo(name: string): VolumeInfo {
    return this.describe(this.lookup(name));
  }

  openVolume(name: string): Volume {
    this.checkOpen();
    const meta = this.lookup(name);
    if (meta.deleting) throw new VolumeNotFoundError(name);
    let vol = this.volumes.get(meta.id);
    if (vol === undefined) {
      vol = new Volume(meta, this);
      this.volumes.set(meta.id, vol);
    }
    return vol;
  }

  async createVolume(opts: { name: string; sizeBytes: number; blockSize?: 512 | 4096; thin?: boolean }): Promise<VolumeInfo> {
    this.checkOpen();
    if (!isValidName(opts.name)) throw new InvalidNameError();
    const blockSize = opts.blockSize ?? 512;
    if (blockSize !== 512 && blockSize !== 4096) throw new InvalidSizeError('block size must be 512 or 4096');
    this.checkVolumeSize(opts.sizeBytes, blockSize);
    if (this.model.byName.has(opts.name) || this.pendingNames.has(opts.name)) throw new VolumeExistsError(opts.name);
    if (this.model.entryCount + this.pendingNames.size >= this.sb.layout.maxVolumes) {
      throw new TooManyVolumesError(this.sb.layout.maxVolumes);
    }
    this.pendingNames.add(opts.name);
    try {
      const thin = opts.thin ?? true;
      const fields = {
        id: this.model.nextVolumeId++, uuid: randomUUID(), name: opts.name, sizeBytes: opts.sizeBytes,
        blockSize, thin, createdAtMs: Date.now(),
      };
      const create: JournalRecord = { type: RecordType.VOL_CREATE, volume: fields };
      if (thin) {
        await this.commit([create], JOURNAL_DURABLE);
      } else {
        await this.supply.provision(this.model.extentsFor(opts.sizeBytes), (ps) => [create, ...mapRuns(fields.id, 0, ps)],
          `thick volume ${opts.name} (${opts.sizeBytes} bytes)`);
      }
      this.log.info({ volume: opts.name, sizeBytes: opts.sizeBytes, thin }, 'volume created');
      return this.volumeInfo(opts.name);
    } finally {
      this.pendingNames.delete(opts.name);
    }
  }

  resizeVolume(name: string, sizeBytes: number): Promise<VolumeInfo> {
    // One at a time, so two grows cannot both start from the same old size.
    return this.serialMeta(async () => {
      this.checkOpen();
      const meta = this.lookup(name);
      if (meta.deleting) throw new VolumeNotFoundError(name);
      this.checkVolumeSize(sizeBytes, meta.blockSize);
      if (sizeBytes < meta.sizeBytes) throw new ShrinkNotSupportedError();
      if (sizeBytes > meta.sizeBytes) {
        const resize: JournalRecord = { type: RecordType.VOL_RESIZE, vol: meta.id, sizeBytes };
        if (meta.thin) {
          await this.commit([resize], JOURNAL_DURABLE);
        } else {
          const from = this.model.extentsFor(meta.sizeBytes);
          await this.supply.provision(this.model.extentsFor(sizeBytes) - from, (ps) => [resize, ...mapRuns(meta.id, from, ps)],
            `growing thick volume ${name} to ${sizeBytes} bytes`);
        }
        this.volumes.get(meta.id)?.grow(sizeBytes / meta.blockSize);
      }
      return this.describe(meta);
    });
  }

  deleteVolume(name: string): Promise<void> {
    const running = this.deletions.get(name);
    if (running !== undefined) return running;
    let meta: VolumeMeta;
    try {
      this.checkOpen();
      meta = this.lookup(name);
    } catch (err) {
      return Promise.reject(err);
    }
    const job = this.eraseAndDelete(meta).finally(() => this.deletions.delete(name));
    this.deletions.set(name, job);
    return job;
  }

  // ---- snapshots and clones (pool_snapshots.ts; one at a time with resizes and delete starts) ----

  /** Byte ranges the snapshot has allocated (the rest reads as zeros); SnapshotNotFoundError if unknown. */
  snapshotAllocated(snapName: string): ByteRange[] {
    return allocatedRanges(this.model, this.snapshotMeta(snapName));
  }

  /** Ranges of `targetSnapName` that may differ from `baseSnapName`: a superset, exact to the extent or grain. */
  snapshotDelta(baseSnapName: string, targetSnapName: string): ByteRange[] {
    return deltaRanges(this.model, this.snapshotMeta(baseSnapName), this.snapshotMeta(targetSnapName));
  }

  /** A read-only view of the volume as it is now, sharing its extents (writes pause briefly). */
  createSnapshot(volume: string, name: string): Promise<SnapshotInfo> {
    return this.serialMeta(() => {
      this.checkOpen();
      return this.snaps.create(this.lookup(volume), name);
    });
  }

  /** All snapshots, or those taken of `volume`. */
  listSnapshots(volume?: string): SnapshotInfo[] {
    return this.snaps.list(volume === undefined ? undefined : this.lookup(volume).id);
  }

  snapshotInfo(name: string): SnapshotInfo {
    return this.snaps.info(name);
  }

  /** Deletes a snapshot; extents only it held are freed, and so are those its volume's copy-ups no longer need (compact). */
  async deleteSnapshot(name: string): Promise<void> {
    await this.serialMeta(() => {
      this.checkOpen();
      return this.snaps.delete(name);
    });
    await this.compact();
  }

  /**
   * Partial extents whose base nobody else references any more (its snapshot was
   * deleted) copy the grains they lack from it, so the base is freed instead of held for
   * a few grains. Runs after snapshot and volume deletes, one pass at a time.
   */
  private compact(): Promise<void> {
    const { model } = this;
    const run = this.compacting.then(async () => {
      // Nothing partial (the common case, and every pool without snapshots): no scan at all.
      if (model.partial.size === 0) return;
      for (const meta of [...model.volumes.values()]) {
        if (this.closed || meta.deleting || meta.filling || !model.volumes.has(meta.id) || !model.hasLonePartial(meta)) continue;
        await this.openVolume(meta.name).compact();
      }
    });
    this.compacting = run.catch((err: unknown) => { this.log.warn({ err }, 'completing partial extents failed'); });
    return this.compacting;
  }

  /** A new volume with the snapshot's data; `sizeBytes` (default the snapshot's) may be larger. */
  createVolumeFromSnapshot(opts: { name: string; snapshot: string; sizeBytes?: number; thin?: boolean }): Promise<VolumeInfo> {
    return this.serialMeta(async () => {
      this.checkOpen();
      await this.snaps.clone(opts, { snapshot: opts.snapshot });
      return this.volumeInfo(opts.name);
    });
  }

  /** A new volume sharing `source`'s extents as they are now (its writes pause briefly). */
  cloneVolume(opts: { name: string; source: string; sizeBytes?: number; thin?: boolean }): Promise<VolumeInfo> {
    return this.serialMeta(async () => {
      this.checkOpen();
      await this.snaps.clone(opts, { volume: this.lookup(opts.source) });
      return this.volumeInfo(opts.name);
    });
  }

  /** Set once another engine took the pool over: all I/O on it fails, only close() is left. */
  get lostOwnership(): DeviceGoneError | null {
    return this.file.guard?.lost ?? null;
  }

  /**
   * Flushes, writes a checkpoint, releases ownership and closes the file; open volumes
   * become DeviceGone. A pool whose ownership was lost writes nothing: it is not ours. A
   * failed checkpoint ends as a crash does (the next import replays the journal), and rejects.
   */
  close(): Promise<void> {
    this.closing ??= (this.lostOwnership !== null ? this.endAsCrash() : this.shutdown()
      .then(() => this.ownership?.release(), (err: unknown) => this.endAsCrash().then(() => { throw err; })))
      .finally(() => this.file.close());
    return this.closing;
  }

  /** Closes the file with no checkpoint and no release: what kill -9 leaves (tests). */
  async abandon(): Promise<void> {
    this.closing ??= this.endAsCrash().then(() => this.file.close());
    await this.closing;
  }

  /**
   * Wipes the superblocks and checkpoint headers so the path no longer holds a pool, and
   * the whole probed start (pool_signature.ts), so a new pool can be created there
   * without force.
   */
  async destroy(): Promise<void> {
    this.checkOpen();
    if (this.model.entryCount > 0 || this.pendingNames.size > 0) throw new PoolNotEmptyError();
    this.closing = this.shutdown();
    await this.closing;
    // No beat may rewrite block 0 after the wipe below.
    await this.ownership?.release();
    this.file.guard = null;
    const l = this.sb.layout;
    const zeros = Buffer.alloc(META_BLOCK_BYTES);
    for (const at of [0, SUPERBLOCK_BYTES, l.slotAOffset, l.slotBOffset]) await this.file.write(zeros, 0, zeros.length, at);
    const start = Math.min(PROBE_BYTES, l.poolBytes);
    await this.file.write(Buffer.alloc(start), 0, start, 0);
    await this.file.sync();
    await this.file.close();
    this.log.info('pool destroyed');
  }

  /**
   * Read-only consistency check (fsck) of a quiescent pool — call it with no I/O or
   * metadata operation in flight; with `checkFreeZeroed`, also reads every free extent.
   */
  async verify(opts: { checkFreeZeroed?: boolean } = {}): Promise<PoolCheckReport> {
    await this.supply.idle();
    await this.reaped();
    return verifyPool(this.model, this.allocator, this.file, this.dataOffset, opts.checkFreeZeroed ?? false);
  }

  // ---- VolumeHost ----

  commit(records: JournalRecord[], flags: number): Promise<void> {
    const undos: (() => void)[] = [];
    // The fullness check waits for the caller's clean-up (extents it hands back).
    const undo = (): void => { for (let i = undos.length - 1; i >= 0; i--) undos[i](); };
    try {
      for (const r of records) undos.push(this.model.applyUndoable(r));
    } catch (err) {
      undo();
      this.model.takeOrphans();
      return Promise.reject(err);
    }
    const orphans = this.model.takeOrphans();
    // An extent is erased only once the record that orphaned it is durable: a power loss
    // must never leave a referenced extent zeroed.
    const done = this.journal.append(records.map(encodeRecord), orphans.length > 0 ? flags | JOURNAL_DURABLE : flags, undo);
    this.noteFull();
    if (orphans.length === 0) return done;
    // The caller hears of success once the space is free again (an UNMAP or delete then
    // frees what it says it frees).
    return done.then(() => this.reap(orphans));
  }

  acquireExtent(): Promise<number> {
    return this.supply.acquire();
  }

  settleTentative(q: number, g: number, crc: number): void {
    this.model.settleTentative(q, g, crc);
  }

  get refs(): Uint32Array {
    return this.model.refs;
  }

  get partial(): Map<number, PartialExtent> {
    return this.model.partial;
  }

  get grains(): number {
    return this.model.grains;
  }

  // ---- internals ----

  private async eraseAndDelete(meta: VolumeMeta): Promise<void> {
    const vol = this.volumes.get(meta.id);
    vol?.markGone();
    // Ordered with resizes and shares: none may map or share extents of a volume being deleted.
    await this.serialMeta(async () => {
      if (!meta.deleting) await this.commit([{ type: RecordType.VOL_DELETING, vol: meta.id }], JOURNAL_DURABLE);
    });
    if (vol !== undefined) await vol.drain();
    // Extents nobody else references are orphaned by the record, then erased and freed.
    await this.commit([{ type: RecordType.VOL_DELETE, vol: meta.id }], JOURNAL_DURABLE);
    await this.reaped();
    this.volumes.delete(meta.id);
    this.log.info({ volume: meta.name }, 'volume deleted');
    await this.compact();
  }

  /**
   * Erases orphans (extents whose last reference went in a durable record) and frees
   * them. In-flight reads of every open volume finish first: a read of a partial extent's
   * base may have started just before the base was dropped.
   */
  private reap(orphans: number[]): Promise<void> {
    const job = (async () => {
      await Promise.all([...this.volumes.values()].map((v) => v.drain()));
      const ps = orphans.filter((p) => this.model.refs[p] === 0 && this.model.reserved.has(p));
      await this.supply.erase(ps);
      const freed: number[] = [];
      for (const p of ps) {
        if (this.model.refs[p] !== 0 || !this.model.reserved.delete(p)) continue;
        freed.push(p);
      }
      this.supply.release(freed);
    })();
    // A failed erase leaves the extents reserved: import zeroes them.
    const tracked = job.catch((err: unknown) => { this.log.warn({ err }, 'erasing freed extents failed; import will'); });
    this.reaping.add(tracked);
    void tracked.finally(() => this.reaping.delete(tracked));
    return tracked;
  }

  /** Resolves once every erase of orphans started so far has finished. */
  private async reaped(): Promise<void> {
    while (this.reaping.size > 0) await Promise.all([...this.reaping]);
  }

  /** A thick pool file owns all its blocks already: nothing to allocate (and no tool to run). */
  private backOnHost(pos: number, len: number, what: string): Promise<void> {
    const space = hostSpace(this.file, this.path);
    if (space !== undefined && space.backedBytes >= space.fileBytes) return Promise.resolve();
    return backRange(this.file, this.path, pos, len, what, true);
  }

  /** Full in its own space: no extent free and none reserved for thin writes. */
  private noteFull(): void {
    this.space.setFull(this.allocator.freeCount === 0 && this.model.reserved.size === 0);
  }

  /** Volumes gone, nothing written, heartbeats stopped and the owner record left held: a crash's end, short of closing the file. */
  private async endAsCrash(): Promise<void> {
    this.closed = true;
    this.space.close();
    for (const v of this.volumes.values()) v.markGone();
    this.journal.shut();
    this.volumes.clear();
    await this.ownership?.abandon();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.space.close();
    for (const v of this.volumes.values()) v.markGone();
    await Promise.all([...this.volumes.values()].map((v) => v.drain()));
    await Promise.allSettled([...this.deletions.values()]);
    // A snapshot or clone in progress finishes (or fails) before the file closes.
    await this.metaChain;
    await this.compacting;
    // Grains written into partial extents since the last flush: a clean stop keeps them
    // (the checkpoint stores only recorded grain bits).
    for (const v of this.volumes.values()) {
      await v.flushGrains().catch((err: unknown) => { this.log.warn({ err, volume: v.name }, 'recording written grains at close failed'); });
    }
    await this.reaped();
    // The untouched reserve is still zero: the checkpoint can drop it.
    await this.supply.close();
    await this.journal.checkpoint();
    this.journal.shut();
    this.volumes.clear();
  }

  private serialMeta<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.metaChain.then(fn, fn);
    this.metaChain = run.catch(() => undefined);
    return run;
  }

  private snapshotMeta(name: string): { sizeBytes: number; map: VolumeMeta['map'] } {
    const s = this.model.snapshotsByName.get(name);
    if (s === undefined || s.state !== 'ready') throw new SnapshotNotFoundError(name);
    return s;
  }

  private lookup(name: string): VolumeMeta {
    const meta = this.model.byName.get(name);
    if (meta === undefined || meta.filling) throw new VolumeNotFoundError(name);
    return meta;
  }

  private describe(v: VolumeMeta): VolumeInfo {
    return {
      name: v.name, uuid: v.uuid, sizeBytes: v.sizeBytes, blockSize: v.blockSize as 512 | 4096, thin: v.thin,
      allocatedBytes: v.map.size * this.extentSize, createdAt: new Date(v.createdAtMs).toISOString(),
      state: v.deleting ? 'deleting' : 'online',
    };
  }

  private checkVolumeSize(sizeBytes: number, blockSize: number): void {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % blockSize !== 0) {
      throw new InvalidSizeError('volume size must be a positive multiple of the block size');
    }
    if (sizeBytes > MAX_VOLUME_BYTES || this.model.extentsFor(sizeBytes) > 0xffff_ffff) {
      throw new InvalidSizeError('volume size is too large');
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new PoolClosedError();
  }
}
