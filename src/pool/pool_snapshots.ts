import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/log.ts';
import { copyExtents, type ExtentCopy } from './pool_extent_copy.ts';
import { formatBytes } from '../util/bytes.ts';
import type { PoolExtentSupply } from './pool_extent_supply.ts';
import type { PoolFile } from './pool_file.ts';
import { JOURNAL_DURABLE, JOURNAL_SYNC_BEFORE } from './pool_journal.ts';
import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import type { PoolModel, SnapshotMeta, VolumeMeta } from './pool_model.ts';
import type { Volume } from './pool_volume.ts';
import { isValidName } from './pool_bytes.ts';
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
  /** Extents it holds (a full copy of the volume's allocated extents). */
  allocatedBytes: number;
  createdAt: string;
  state: 'creating' | 'ready' | 'deleting';
}

/** What snapshot operations need from the pool. */
export interface SnapshotHost {
  readonly model: PoolModel;
  readonly supply: PoolExtentSupply;
  readonly file: PoolFile;
  readonly dataOffset: number;
  readonly extentSize: number;
  readonly maxEntries: number;
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
 * Snapshots and clones by copy. A snapshot is a read-only entry in the volume table that
 * owns its own extents: creating one holds the volume's writes, maps fresh extents to a
 * `creating` snapshot, copies the volume's allocated extents into them and then marks it
 * ready. A clone is a volume created `filling` and filled the same way. Import erases any
 * entry left creating or filling, so a crash at any step leaves either the finished copy
 * or nothing. Callers run these one at a time (the pool's metadata chain), which also
 * keeps a volume from being deleted, and a snapshot from being dropped, mid-copy.
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
    const release = await this.h.openVolume(volume.name).holdWrites();
    let id = -1;
    try {
      const sources = mappedExtents(volume, model);
      const fields = {
        id: model.nextVolumeId++, uuid: randomUUID(), name, sourceId: volume.id, sizeBytes: volume.sizeBytes,
        blockSize: volume.blockSize, createdAtMs: Date.now(),
      };
      await this.fill({ type: RecordType.SNAP_CREATE, snapshot: fields }, fields.id, sources, [], () => { id = fields.id; },
        `snapshot '${name}' of volume '${volume.name}'`);
    } catch (err) {
      if (id >= 0) await this.drop(id).catch(() => undefined);
      throw err;
    } finally {
      release();
    }
    await this.finish([{ type: RecordType.SNAP_READY, snap: id }], id);
    this.h.log.info({ volume: volume.name, snapshot: name }, 'snapshot created');
    return this.info(name);
  }

  /**
   * A new volume holding a copy of a snapshot or of a live volume (whose writes are held
   * for the copy). It may be larger than its source; the rest reads as zeros.
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
    const release = live ? await this.h.openVolume(src.name).holdWrites() : () => undefined;
    let id = -1;
    try {
      const sources = mappedExtents(src, model);
      const blank: number[] = [];
      if (!thin) {
        const have = new Set(sources.map((s) => s.l));
        for (let l = 0; l < model.extentsFor(sizeBytes); l++) if (!have.has(l)) blank.push(l);
      }
      const fields = {
        id: model.nextVolumeId++, uuid: randomUUID(), name, sizeBytes, blockSize: src.blockSize, thin,
        createdAtMs: Date.now(), filling: true,
      };
      await this.fill({ type: RecordType.VOL_CREATE, volume: fields }, fields.id, sources, blank, () => { id = fields.id; },
        `clone '${name}' of ${live ? 'volume' : 'snapshot'} '${src.name}'`);
    } catch (err) {
      if (id >= 0) await this.drop(id).catch(() => undefined);
      throw err;
    } finally {
      release();
    }
    await this.finish([{ type: RecordType.VOL_FILLED, vol: id }], id);
    this.h.log.info({ volume: name, source: src.name, fromSnapshot: !live }, 'clone created');
  }

  /** Journals the delete, erases the snapshot's extents, then frees them. */
  async delete(name: string): Promise<void> {
    const s = this.lookup(name);
    if (s.state !== 'deleting') await this.h.commit([{ type: RecordType.SNAP_DELETING, snap: s.id }], JOURNAL_DURABLE);
    await this.drop(s.id);
    this.h.log.info({ snapshot: name }, 'snapshot deleted');
  }

  /**
   * Erases and removes a snapshot or volume entry that is being created, filled or deleted.
   * Import passes `journaled = false`: it applies the removal to the model only, and the
   * checkpoint it writes next (after an fdatasync) records it.
   */
  async drop(id: number, journaled = true): Promise<void> {
    const { model } = this.h;
    const entry = model.snapshots.get(id) ?? model.volume(id);
    const ps = mappedExtents(entry, model).map((s) => s.p);
    await this.h.supply.erase(ps);
    const rec: JournalRecord = model.snapshots.has(id) ? { type: RecordType.SNAP_DELETE, snap: id } : { type: RecordType.VOL_DELETE, vol: id };
    if (journaled) await this.h.commit([rec], JOURNAL_SYNC_BEFORE | JOURNAL_DURABLE);
    else model.apply(rec);
    this.h.supply.release(ps);
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
   * Takes extents for every copied and every blank logical extent, journals `head` and
   * the mapping durably (the entry exists from then on, flagged unfinished), then copies.
   */
  private async fill(head: JournalRecord, id: number, sources: { l: number; p: number }[], blank: number[], created: () => void, what: string): Promise<void> {
    const copies: ExtentCopy[] = [];
    await this.h.supply.provision(sources.length + blank.length, (ps) => {
      const pairs: { l: number; p: number }[] = [];
      sources.forEach((s, i) => { pairs.push({ l: s.l, p: ps[i] }); copies.push({ from: s.p, to: ps[i] }); });
      blank.forEach((l, i) => pairs.push({ l, p: ps[sources.length + i] }));
      pairs.sort((a, b) => a.l - b.l);
      return [head, ...mapRecords(id, pairs)];
    }, `${what} (a copy of ${formatBytes((sources.length + blank.length) * this.h.extentSize)})`);
    created();
    await copyExtents(this.h.file, this.h.dataOffset, this.h.extentSize, copies);
  }

  /** Makes the copied data durable before the record that declares the entry complete. */
  private async finish(records: JournalRecord[], id: number): Promise<void> {
    try {
      await this.h.commit(records, JOURNAL_SYNC_BEFORE | JOURNAL_DURABLE);
    } catch (err) {
      await this.drop(id).catch(() => undefined);
      throw err;
    }
  }

  private checkRoom(): void {
    if (this.h.model.entryCount >= this.h.maxEntries) throw new TooManyVolumesError(this.h.maxEntries);
  }

  private lookup(name: string): SnapshotMeta {
    const s = this.h.model.snapshotsByName.get(name);
    if (s === undefined || s.state === 'deleting') throw new SnapshotNotFoundError(name);
    return s;
  }

  private describe(s: SnapshotMeta): SnapshotInfo {
    const source = this.h.model.volumes.get(s.sourceId);
    return {
      name: s.name, uuid: s.uuid, sourceVolume: source?.name ?? null, sourceVolumeUuid: source?.uuid ?? null,
      sizeBytes: s.sizeBytes, blockSize: s.blockSize as 512 | 4096, allocatedBytes: s.map.size * this.h.extentSize,
      createdAt: new Date(s.createdAtMs).toISOString(), state: s.state,
    };
  }
}

function mappedExtents(entry: { sizeBytes: number; map: VolumeMeta['map'] }, model: PoolModel): { l: number; p: number }[] {
  const out: { l: number; p: number }[] = [];
  entry.map.forEachMapped(0, model.extentsFor(entry.sizeBytes), (l, p) => out.push({ l, p }));
  return out;
}

/** MAP records for (logical, pool) pairs sorted by logical extent, one per run contiguous in both. */
function mapRecords(vol: number, pairs: { l: number; p: number }[]): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (const { l, p } of pairs) {
    const last = out[out.length - 1];
    if (last !== undefined && last.type === RecordType.MAP && last.l + last.count === l && last.p + last.count === p) last.count++;
    else out.push({ type: RecordType.MAP, vol, l, p, count: 1 });
  }
  return out;
}
