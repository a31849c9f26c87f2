import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/log.ts';
import { NoSpaceError } from '../block/errors.ts';
import { flushUntilQuick } from '../block/flush_rounds.ts';
import type { PoolExtentSupply } from './pool_extent_supply.ts';
import { JOURNAL_DURABLE, JOURNAL_SYNC_BEFORE } from './pool_journal.ts';
import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import type { PoolModel, SnapshotMeta, VolumeMeta } from './pool_model.ts';
import type { Volume } from './pool_volume.ts';
import { isValidName } from './pool_bytes.ts';
import { snapshotExclusiveBytes, checkpointBytes } from './pool_space.ts';
import { CHECKPOINT_HEADER_BYTES, CHECKPOINT_RUN_BYTES, CHECKPOINT_VOLUME_BYTES_MAX } from './pool_layout.ts';
import {
  InvalidNameError, InvalidSizeError, SnapshotExistsError, SnapshotNotFoundError, TooManyVolumesError,
  VolumeExistsError, VolumeNotFoundError,
} from './pool_errors.ts';

export interface SnapshotInfo {
  name: string;
  uuid: string;
  /** The volume it was taken from; null once that volume is deleted (the snapshot lives on). */
  sourceVolume: string | null;
  sourceVolumeUuid: string | null;
  sizeBytes: number;
  blockSize: 512 | 4096;
  /** Bytes of the volume it maps (allocated when it was taken), shared or not. */
  allocatedBytes: number;
  /**
   * Bytes only this snapshot holds: what deleting it would free (extents nobody else
   * references, plus base grains every other referrer has overwritten).
   */
  exclusiveBytes: number;
  createdAt: string;
  state: 'creating' | 'ready' | 'deleting';
}

/** What snapshot operations need from the pool. */
export interface SnapshotHost {
  readonly model: PoolModel;
  readonly supply: PoolExtentSupply;
  readonly extentSize: number;
  readonly maxEntries: number;
  /** Checkpoint slot size: shares that would fill more than half of it are refused. */
  readonly slotBytes: number;
  readonly log: Logger;
  commit(records: JournalRecord[], flags: number): Promise<void>;
  /** The open Volume for a live volume (created on demand). */
  openVolume(name: string): Volume;
  /** Reserves a volume name against concurrent creates (VolumeExistsError if taken); returns its release. */
  claimName(name: string): () => void;
  /** Validates a volume size for a block size (throws InvalidSizeError). */
  checkVolumeSize(sizeBytes: number, blockSize: number): void;
}

/**
 * Snapshots and clones by sharing (format 4, docs/pool-format.md §12). A snapshot is a
 * read-only table entry whose map is the volume's map at one instant: creating one holds
 * the volume's writes, drains those in flight, journals their pending grains, then
 * journals SNAP_CREATE + SHARE + SNAP_READY in one batch (sync-before, so every
 * acknowledged write is in it even across a power loss), lets writes go on once that is
 * written, and answers once it is durable. No data is copied; the volume
 * copies up on its next write to each shared extent. A clone is a volume created
 * `filling`, shared and marked filled in one batch. A batch torn by a crash leaves an
 * entry `creating`/`filling`, which import drops. Callers run these one at a time (the
 * pool's metadata chain), so a volume cannot be deleted mid-share.
 */
export class PoolSnapshots {
  private readonly h: SnapshotHost;

  constructor(host: SnapshotHost) {
    this.h = host;
  }

  list(sourceId?: number): SnapshotInfo[] {
    return [...this.h.model.snapshots.values()].filter((s) => sourceId === undefined || s.sourceId === sourceId)
      .map((s) => this.describe(s));
  }

  info(name: string): SnapshotInfo {
    return this.describe(this.lookup(name));
  }

  async create(volume: VolumeMeta, name: string): Promise<SnapshotInfo> {
    const { model } = this.h;
    if (!isValidName(name)) throw new InvalidNameError();
    if (model.snapshotsByName.has(name)) throw new SnapshotExistsError(name);
    this.checkRoom();
    if (volume.deleting || volume.filling) throw new VolumeNotFoundError(volume.name);
    const vol = this.h.openVolume(volume.name);
    await this.preFlush(vol);
    const release = await vol.holdWrites();
    try {
      this.checkMetadataRoom(volume);
      const grains = await vol.takeGrains();
      const fields = {
        id: model.nextVolumeId++, uuid: randomUUID(), name, sourceId: volume.id, sizeBytes: volume.sizeBytes,
        blockSize: volume.blockSize, createdAtMs: Date.now(),
      };
      // One batch: the grains written so far, then the share (after an fdatasync, so every
      // acknowledged write is in the snapshot even across a power loss). Writes resume once
      // it is written; see durableAfterRelease for why they need not wait for its fdatasync.
      await this.h.commit([
        ...grains.records,
        { type: RecordType.SNAP_CREATE, snapshot: fields },
        { type: RecordType.SHARE, dst: fields.id, src: volume.id },
        { type: RecordType.SNAP_READY, snap: fields.id },
      ], JOURNAL_SYNC_BEFORE).catch((err: unknown) => { grains.restore(); throw err; });
    } finally {
      release();
    }
    await this.durableAfterRelease();
    this.h.log.info({ volume: volume.name, snapshot: name }, 'snapshot created');
    // Right after the share every extent it maps is shared with the volume: it holds nothing alone.
    return this.describe(this.lookup(name), 0);
  }

  /**
   * A new volume sharing a snapshot's extents or a live volume's (whose writes are held
   * for the instant of the share). It may be larger than its source; the rest reads as zeros.
   */
  async clone(opts: { name: string; sizeBytes?: number; thin?: boolean }, source: { snapshot?: string; volume?: VolumeMeta }): Promise<void> {
    const { model } = this.h;
    if (!isValidName(opts.name)) throw new InvalidNameError();
    if (model.byName.has(opts.name)) throw new VolumeExistsError(opts.name);
    this.checkRoom();
    const src: SnapshotMeta | VolumeMeta = source.snapshot !== undefined ? this.lookup(source.snapshot) : source.volume!;
    if ('deleting' in src && (src.deleting || src.filling)) throw new VolumeNotFoundError(src.name);
    const sizeBytes = opts.sizeBytes ?? src.sizeBytes;
    this.h.checkVolumeSize(sizeBytes, src.blockSize);
    if (sizeBytes < src.sizeBytes) throw new InvalidSizeError('a clone cannot be smaller than its source');
    const unclaim = this.h.claimName(opts.name);
    try {
      await this.cloneInto(opts.name, sizeBytes, opts.thin ?? true, src, source.volume !== undefined);
    } finally {
      unclaim();
    }
  }

  private async cloneInto(name: string, sizeBytes: number, thin: boolean, src: SnapshotMeta | VolumeMeta, live: boolean): Promise<void> {
    const { model } = this.h;
    const vol = live ? this.h.openVolume(src.name) : null;
    if (vol !== null) await this.preFlush(vol);
    const release = vol !== null ? await vol.holdWrites() : () => undefined;
    try {
      this.checkMetadataRoom(src);
      const grains = vol !== null ? await vol.takeGrains() : { records: [], restore: () => undefined };
      const fields = {
        id: model.nextVolumeId++, uuid: randomUUID(), name, sizeBytes, blockSize: src.blockSize, thin,
        createdAtMs: Date.now(), filling: true,
      };
      const head: JournalRecord[] = [
        ...grains.records, { type: RecordType.VOL_CREATE, volume: fields }, { type: RecordType.SHARE, dst: fields.id, src: src.id },
      ];
      const filled: JournalRecord = { type: RecordType.VOL_FILLED, vol: fields.id };
      const blank: number[] = [];
      if (!thin) for (let l = 0; l < model.extentsFor(sizeBytes); l++) if (src.map.get(l) < 0) blank.push(l);
      // A thin clone's batch is only written under the hold, as a snapshot's is.
      const done = blank.length === 0
        ? this.h.commit([...head, filled], JOURNAL_SYNC_BEFORE)
        // A thick clone owns zeroed extents for what its source left unallocated.
        : this.h.supply.provision(blank.length, (ps) => [...head, ...blank.map((l, i) => (
          { type: RecordType.MAP, vol: fields.id, l, p: ps[i], count: 1 } as JournalRecord)), filled],
        `thick clone '${name}' of '${src.name}'`, JOURNAL_SYNC_BEFORE);
      await done.catch((err: unknown) => { grains.restore(); throw err; });
    } finally {
      release();
    }
    await this.durableAfterRelease();
    this.h.log.info({ volume: name, source: src.name, fromSnapshot: !live }, 'clone created');
  }

  /** Journals the delete; extents only the snapshot referenced are then erased and freed. */
  async delete(name: string): Promise<void> {
    const s = this.lookup(name);
    await this.h.commit([{ type: RecordType.SNAP_DELETE, snap: s.id }], JOURNAL_DURABLE);
    this.h.log.info({ snapshot: name }, 'snapshot deleted');
  }

  /**
   * Import: removes a snapshot or volume entry a crash left creating, filling or
   * deleting, in the model only; the checkpoint import writes next records it, and
   * import zeroes the extents it orphaned before that.
   */
  drop(id: number): void {
    const { model } = this.h;
    model.apply(model.snapshots.has(id) ? { type: RecordType.SNAP_DELETE, snap: id } : { type: RecordType.VOL_DELETE, vol: id });
  }

  /** Snapshot ids left creating or deleting, and clone ids left filling, by a crash. */
  unfinished(): number[] {
    const { model } = this.h;
    const out: number[] = [];
    for (const s of model.snapshots.values()) if (s.state !== 'ready') out.push(s.id);
    for (const v of model.volumes.values()) if (v.filling && !v.deleting) out.push(v.id);
    return out;
  }

  /**
   * Before a share holds the volume's writes: its dirty data (and its written grains) go to
   * disk while writes still flow, so the fdatasync the share's batch starts with, inside
   * the hold, has only what was written since. Each round has only what the one before
   * let through (on a disk under a 4k QD32 write load: a pause of 0.5-1.2 s with no round,
   * 25-160 ms with two, 9-37 ms with three), so rounds go on until one is quick
   * (flushUntilQuick: under 3 ms, at most 8 rounds).
   * Only a shortcut: a failure here (the pool closing, an I/O error) is left to the
   * share's own sync-before, which is what the snapshot's guarantees rest on.
   */
  private async preFlush(vol: Volume): Promise<void> {
    try {
      await flushUntilQuick(() => vol.flush());
    } catch (err) {
      this.h.log.debug({ err, volume: vol.name }, 'flush before a share failed');
    }
  }

  /**
   * A share's batch is written (sync-before) while the volume's writes are held; they
   * resume as soon as it is written, and only the caller's answer waits for it to be
   * durable, here (docs/pool-format.md §12, "the write pause"). That is safe because
   * every write after the release is placed by the model the share already changed (it
   * copies up, never writes a shared extent), and its record follows the share's in the
   * journal, whose replay is a prefix: after a crash the share is there with exactly the
   * writes before it, or the share and every record after it are gone (a write after it
   * that was flushed made the share durable first: its fdatasync started after the
   * share's write). A failed fdatasync here fails the call, but the share is applied and
   * written: the snapshot or clone exists, as after a crash right after its write.
   */
  private durableAfterRelease(): Promise<void> {
    return this.h.commit([], JOURNAL_DURABLE);
  }

  private checkRoom(): void {
    if (this.h.model.entryCount >= this.h.maxEntries) throw new TooManyVolumesError(this.h.maxEntries);
  }

  /**
   * Shared maps repeat their runs in every checkpoint. The slot keeps room for every
   * table entry; of the rest (runs, partial extents, the reserve), a share that would
   * fill more than half is refused, keeping the other half for the maps to diverge.
   */
  private checkMetadataRoom(src: { map: VolumeMeta['map'] }): void {
    const { model, slotBytes, maxEntries } = this.h;
    const runs = src.map.runs;
    const table = (n: number): number => CHECKPOINT_HEADER_BYTES + n * CHECKPOINT_VOLUME_BYTES_MAX;
    const room = slotBytes - table(maxEntries);
    const after = checkpointBytes(model) - table(model.entryCount) + CHECKPOINT_RUN_BYTES * runs;
    if (after > room / 2) {
      throw new NoSpaceError(`pool metadata is full: sharing ${runs} more extent runs would fill ${after} of the ${Math.floor(room / 2)} bytes `
        + 'the checkpoint keeps for shared maps');
    }
  }

  private lookup(name: string): SnapshotMeta {
    const s = this.h.model.snapshotsByName.get(name);
    if (s === undefined || s.state !== 'ready') throw new SnapshotNotFoundError(name);
    return s;
  }

  private describe(s: SnapshotMeta, exclusiveBytes?: number): SnapshotInfo {
    const source = this.h.model.volumes.get(s.sourceId);
    return {
      name: s.name, uuid: s.uuid, sourceVolume: source?.name ?? null, sourceVolumeUuid: source?.uuid ?? null,
      sizeBytes: s.sizeBytes, blockSize: s.blockSize as 512 | 4096, allocatedBytes: s.map.size * this.h.extentSize,
      exclusiveBytes: exclusiveBytes ?? snapshotExclusiveBytes(this.h.model, s),
      createdAt: new Date(s.createdAtMs).toISOString(), state: s.state,
    };
  }
}
