import { PoolExtentMap } from './pool_extent_map.ts';
import { PoolCorruptError } from './pool_errors.ts';
import { RecordType, type JournalRecord, type SnapshotRecordFields, type VolumeRecordFields } from './pool_journal_record.ts';

/** A volume's metadata as the checkpoint and journal describe it. */
export interface VolumeMeta extends VolumeRecordFields {
  deleting: boolean;
  /** A clone still being copied into: not openable, erased by import. */
  filling: boolean;
  map: PoolExtentMap;
}

export type SnapshotState = 'creating' | 'ready' | 'deleting';

/** A read-only point-in-time copy of a volume: its own extents, never written after it is ready. */
export interface SnapshotMeta extends SnapshotRecordFields {
  state: SnapshotState;
  map: PoolExtentMap;
}

/**
 * The pool's metadata state: what a checkpoint stores and what journal records change.
 * Pure: the runtime applies each record the moment it queues it, and import applies the
 * replayed ones, through the same `apply`, so both always agree on the meaning.
 */
export class PoolModel {
  readonly extentCount: number;
  readonly extentSize: number;
  readonly volumes = new Map<number, VolumeMeta>();
  readonly byName = new Map<string, VolumeMeta>();
  /** Snapshots share the id space with volumes, so a MAP record names its owner unambiguously. */
  readonly snapshots = new Map<number, SnapshotMeta>();
  readonly snapshotsByName = new Map<string, SnapshotMeta>();
  /** Pool extents reserved for thin allocation and not yet mapped. */
  readonly reserved = new Set<number>();
  /** Extents at or above this index may hold old device contents. */
  hwm = 0;
  nextVolumeId = 1;

  constructor(extentCount: number, extentSize: number) {
    this.extentCount = extentCount;
    this.extentSize = extentSize;
  }

  volume(id: number): VolumeMeta {
    const v = this.volumes.get(id);
    if (v === undefined) throw new PoolCorruptError(`metadata refers to unknown volume ${id}`);
    return v;
  }

  snapshot(id: number): SnapshotMeta {
    const s = this.snapshots.get(id);
    if (s === undefined) throw new PoolCorruptError(`metadata refers to unknown snapshot ${id}`);
    return s;
  }

  /** The extent map and size of whatever a MAP record names: a volume or a snapshot. */
  private owner(id: number): { sizeBytes: number; map: PoolExtentMap } {
    return this.volumes.get(id) ?? this.snapshot(id);
  }

  /** Volume and snapshot table entries together (they share the table's capacity). */
  get entryCount(): number {
    return this.volumes.size + this.snapshots.size;
  }

  /** Logical extents a volume of `sizeBytes` spans. */
  extentsFor(sizeBytes: number): number {
    return Math.ceil(sizeBytes / this.extentSize);
  }

  addVolume(fields: VolumeRecordFields, deleting = false): VolumeMeta {
    const v: VolumeMeta = { ...fields, deleting, filling: fields.filling === true, map: new PoolExtentMap() };
    this.volumes.set(v.id, v);
    this.byName.set(v.name, v);
    if (v.id >= this.nextVolumeId) this.nextVolumeId = v.id + 1;
    return v;
  }

  addSnapshot(fields: SnapshotRecordFields, state: SnapshotState): SnapshotMeta {
    const s: SnapshotMeta = { ...fields, state, map: new PoolExtentMap() };
    this.snapshots.set(s.id, s);
    this.snapshotsByName.set(s.name, s);
    if (s.id >= this.nextVolumeId) this.nextVolumeId = s.id + 1;
    return s;
  }

  apply(rec: JournalRecord): void {
    switch (rec.type) {
      case RecordType.HWM:
        if (rec.hwm > this.extentCount) throw new PoolCorruptError('high-water mark past the pool');
        this.hwm = rec.hwm;
        break;
      case RecordType.RESERVE:
        this.checkExtents(rec.start, rec.count);
        for (let i = 0; i < rec.count; i++) this.reserved.add(rec.start + i);
        break;
      case RecordType.MAP: {
        const v = this.owner(rec.vol);
        this.checkExtents(rec.p, rec.count);
        if (rec.l + rec.count > this.extentsFor(v.sizeBytes)) throw new PoolCorruptError('mapping past the end of a volume');
        for (let i = 0; i < rec.count; i++) {
          v.map.set(rec.l + i, rec.p + i);
          this.reserved.delete(rec.p + i);
        }
        break;
      }
      case RecordType.UNMAP: {
        const v = this.volume(rec.vol);
        for (let i = 0; i < rec.count; i++) v.map.delete(rec.l + i);
        break;
      }
      case RecordType.VOL_CREATE: {
        const old = this.byName.get(rec.volume.name);
        if (this.volumes.has(rec.volume.id) || this.snapshots.has(rec.volume.id) || (old !== undefined)) {
          throw new PoolCorruptError('volume created twice');
        }
        this.addVolume(rec.volume);
        break;
      }
      case RecordType.VOL_FILLED:
        this.volume(rec.vol).filling = false;
        break;
      case RecordType.SNAP_CREATE: {
        const s = rec.snapshot;
        if (this.snapshots.has(s.id) || this.volumes.has(s.id) || this.snapshotsByName.has(s.name)) {
          throw new PoolCorruptError('snapshot created twice');
        }
        this.addSnapshot(s, 'creating');
        break;
      }
      case RecordType.SNAP_READY:
        this.snapshot(rec.snap).state = 'ready';
        break;
      case RecordType.SNAP_DELETING:
        this.snapshot(rec.snap).state = 'deleting';
        break;
      case RecordType.SNAP_DELETE: {
        const s = this.snapshot(rec.snap);
        this.snapshots.delete(s.id);
        this.snapshotsByName.delete(s.name);
        break;
      }
      case RecordType.VOL_RESIZE:
        this.volume(rec.vol).sizeBytes = rec.sizeBytes;
        break;
      case RecordType.VOL_DELETING:
        this.volume(rec.vol).deleting = true;
        break;
      case RecordType.VOL_DELETE: {
        const v = this.volume(rec.vol);
        this.volumes.delete(v.id);
        this.byName.delete(v.name);
        break;
      }
    }
  }

  private checkExtents(p: number, count: number): void {
    if (count < 1 || p + count > this.extentCount) throw new PoolCorruptError('extent run past the end of the pool');
  }
}
