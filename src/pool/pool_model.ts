import { PoolExtentMap } from './pool_extent_map.ts';
import { PoolCorruptError } from './pool_errors.ts';
import { RecordType, type JournalRecord, type SnapshotRecordFields, type VolumeRecordFields } from './pool_journal_record.ts';
import { GRAIN_WORDS, MAX_GRAINS, grainsPerExtent, hasAllGrains, hasGrain } from './pool_grains.ts';

/** A volume's metadata as the checkpoint and journal describe it. */
export interface VolumeMeta extends VolumeRecordFields {
  deleting: boolean;
  /** A clone whose share record has not landed yet: not openable, dropped by import. */
  filling: boolean;
  map: PoolExtentMap;
}

export type SnapshotState = 'creating' | 'ready' | 'deleting';

/** A read-only point-in-time view of a volume: a map sharing the volume's extents, never written. */
export interface SnapshotMeta extends SnapshotRecordFields {
  state: SnapshotState;
  map: PoolExtentMap;
}

/**
 * A pool extent filled by copy-up (format 4): grains whose bit is clear read from `base`
 * (itself possibly partial). `bits` is what the journal says; `live` adds grains written
 * since and not yet journaled (they become durable at the writer's next flush).
 */
export interface PartialExtent {
  base: number;
  bits: Uint32Array;
  live: Uint32Array;
}

type Entry = { sizeBytes: number; map: PoolExtentMap };

/**
 * The pool's metadata state: what a checkpoint stores and what journal records change.
 * Pure: the runtime applies each record the moment it queues it, and import applies the
 * replayed ones, through the same `apply`, so both always agree on the meaning.
 *
 * Reference counts are derived, like the free list: refs[p] = maps (volumes and
 * snapshots) mapping p + partial extents whose base is p. A record that drops an
 * extent's last reference moves it to the reserve (an *orphan*): the pool erases it
 * after the record is durable and only then frees it, and import zeroes every reserved
 * extent nothing maps — so a free extent below hwm always holds zeros (I1).
 */
export class PoolModel {
  readonly extentCount: number;
  readonly extentSize: number;
  readonly grains: number;
  readonly volumes = new Map<number, VolumeMeta>();
  readonly byName = new Map<string, VolumeMeta>();
  /** Snapshots share the id space with volumes, so a MAP record names its owner unambiguously. */
  readonly snapshots = new Map<number, SnapshotMeta>();
  readonly snapshotsByName = new Map<string, SnapshotMeta>();
  /** Pool extents reserved for thin allocation and not yet mapped, and orphans awaiting erase. */
  readonly reserved = new Set<number>();
  readonly refs: Uint32Array;
  readonly partial = new Map<number, PartialExtent>();
  /**
   * Format 5: tentative grains by q * MAX_GRAINS + g, each with the CRC-32 of the data it
   * may hold (the last two: a grain is rewritten one write at a time, record first). At
   * import, everything replayed; at run time, only grain writes still in flight.
   */
  readonly tentative = new Map<number, number[]>();
  /** Extents at or above this index may hold old device contents. */
  hwm = 0;
  nextVolumeId = 1;
  /** Extents whose last reference went since the last takeOrphans(). */
  private orphans: number[] = [];
  private undoLog: (() => void)[] | null = null;

  constructor(extentCount: number, extentSize: number) {
    this.extentCount = extentCount;
    this.extentSize = extentSize;
    this.grains = grainsPerExtent(extentSize);
    this.refs = new Uint32Array(extentCount);
  }

  volume(id: number): VolumeMeta {
    const v = this.volumes.get(id);
    if (v === undefined) throw new PoolCorruptError(`metadata refers to unknown volume ${id}`);
    return v;
  }

  /** Whether `meta` maps a partial extent whose base only that extent still references. */
  hasLonePartial(meta: VolumeMeta): boolean {
    let found = false;
    meta.map.forEachMapped(0, this.extentsFor(meta.sizeBytes), (_l, p) => {
      const part = this.partial.get(p);
      if (part !== undefined && this.refs[p] === 1 && this.refs[part.base] === 1) found = true;
    });
    return found;
  }

  snapshot(id: number): SnapshotMeta {
    const s = this.snapshots.get(id);
    if (s === undefined) throw new PoolCorruptError(`metadata refers to unknown snapshot ${id}`);
    return s;
  }

  /** The extent map and size of whatever a record names: a volume or a snapshot. */
  entry(id: number): Entry & { name: string } {
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

  /** Extents that lost their last reference since the last call (they sit in the reserve). */
  takeOrphans(): number[] {
    const out = this.orphans;
    this.orphans = [];
    return out;
  }

  /** Applies `rec` and returns the exact inverse (for a journal write that failed). */
  applyUndoable(rec: JournalRecord): () => void {
    const log: (() => void)[] = [];
    const undo = (): void => { for (let i = log.length - 1; i >= 0; i--) log[i](); };
    this.undoLog = log;
    try {
      this.apply(rec);
    } catch (err) {
      this.undoLog = null;
      undo();
      throw err;
    } finally {
      this.undoLog = null;
    }
    return undo;
  }

  /** Recomputes every reference count from the maps and partial bases (after a checkpoint is decoded). */
  rebuildRefs(): void {
    this.refs.fill(0);
    for (const e of [...this.volumes.values(), ...this.snapshots.values()]) {
      e.map.forEachMapped(0, this.extentsFor(e.sizeBytes), (_l, p) => { this.refs[p]++; });
    }
    for (const part of this.partial.values()) this.refs[part.base]++;
  }

  addVolume(fields: VolumeRecordFields, deleting = false): VolumeMeta {
    const v: VolumeMeta = { ...fields, deleting, filling: fields.filling === true, map: new PoolExtentMap() };
    this.volumes.set(v.id, v);
    this.byName.set(v.name, v);
    const next = this.nextVolumeId;
    if (v.id >= next) this.nextVolumeId = v.id + 1;
    this.note(() => { this.volumes.delete(v.id); this.byName.delete(v.name); this.nextVolumeId = next; });
    return v;
  }

  addSnapshot(fields: SnapshotRecordFields, state: SnapshotState): SnapshotMeta {
    const s: SnapshotMeta = { ...fields, state, map: new PoolExtentMap() };
    this.snapshots.set(s.id, s);
    this.snapshotsByName.set(s.name, s);
    const next = this.nextVolumeId;
    if (s.id >= next) this.nextVolumeId = s.id + 1;
    this.note(() => { this.snapshots.delete(s.id); this.snapshotsByName.delete(s.name); this.nextVolumeId = next; });
    return s;
  }

  /** Forgets a tentative grain's CRC once its write has finished (run time, not journaled). */
  settleTentative(q: number, g: number, crc: number): void {
    const key = q * MAX_GRAINS + g;
    const list = this.tentative.get(key);
    if (list === undefined) return;
    const i = list.lastIndexOf(crc);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.tentative.delete(key);
  }

  /** Adds a partial extent while decoding a checkpoint (refs are rebuilt afterwards). */
  loadPartial(q: number, base: number, bits: Uint32Array): void {
    this.checkExtents(q, 1);
    this.checkExtents(base, 1);
    this.partial.set(q, { base, bits, live: bits.slice() });
  }

  apply(rec: JournalRecord): void {
    switch (rec.type) {
      case RecordType.HWM: {
        if (rec.hwm > this.extentCount) throw new PoolCorruptError('high-water mark past the pool');
        const old = this.hwm;
        this.hwm = rec.hwm;
        this.note(() => { this.hwm = old; });
        break;
      }
      case RecordType.RESERVE:
        this.checkExtents(rec.start, rec.count);
        for (let i = 0; i < rec.count; i++) this.reserve(rec.start + i);
        break;
      case RecordType.MAP: {
        const v = this.entry(rec.vol);
        this.checkExtents(rec.p, rec.count);
        if (rec.l + rec.count > this.extentsFor(v.sizeBytes)) throw new PoolCorruptError('mapping past the end of a volume');
        for (let i = 0; i < rec.count; i++) {
          this.unreserve(rec.p + i);
          this.mapSet(v, rec.l + i, rec.p + i);
        }
        break;
      }
      case RecordType.UNMAP: {
        const v = this.volume(rec.vol);
        for (let i = 0; i < rec.count; i++) this.mapDelete(v, rec.l + i);
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
      case RecordType.VOL_FILLED: {
        const v = this.volume(rec.vol);
        const was = v.filling;
        v.filling = false;
        this.note(() => { v.filling = was; });
        break;
      }
      case RecordType.SNAP_CREATE: {
        const s = rec.snapshot;
        if (this.snapshots.has(s.id) || this.volumes.has(s.id) || this.snapshotsByName.has(s.name)) {
          throw new PoolCorruptError('snapshot created twice');
        }
        this.addSnapshot(s, 'creating');
        break;
      }
      case RecordType.SNAP_READY:
        this.setState(this.snapshot(rec.snap), 'ready');
        break;
      case RecordType.SNAP_DELETING:
        this.setState(this.snapshot(rec.snap), 'deleting');
        break;
      case RecordType.SNAP_DELETE: {
        const s = this.snapshot(rec.snap);
        this.clearMap(s);
        this.snapshots.delete(s.id);
        this.snapshotsByName.delete(s.name);
        this.note(() => { this.snapshots.set(s.id, s); this.snapshotsByName.set(s.name, s); });
        break;
      }
      case RecordType.VOL_RESIZE: {
        const v = this.volume(rec.vol);
        const was = v.sizeBytes;
        v.sizeBytes = rec.sizeBytes;
        this.note(() => { v.sizeBytes = was; });
        break;
      }
      case RecordType.VOL_DELETING: {
        const v = this.volume(rec.vol);
        const was = v.deleting;
        v.deleting = true;
        this.note(() => { v.deleting = was; });
        break;
      }
      case RecordType.VOL_DELETE: {
        const v = this.volume(rec.vol);
        this.clearMap(v);
        this.volumes.delete(v.id);
        this.byName.delete(v.name);
        this.note(() => { this.volumes.set(v.id, v); this.byName.set(v.name, v); });
        break;
      }
      case RecordType.SHARE: {
        const dst = this.entry(rec.dst);
        const src = this.entry(rec.src);
        if (dst.map.size !== 0) throw new PoolCorruptError('share into a non-empty map');
        if (this.extentsFor(src.sizeBytes) > this.extentsFor(dst.sizeBytes)) throw new PoolCorruptError('share into a smaller entry');
        // The map is empty: copy it whole, and one undo entry takes the whole share back.
        dst.map.copyFrom(src.map);
        dst.map.countInto(this.refs, 1);
        this.note(() => {
          dst.map.countInto(this.refs, -1);
          dst.map.clear();
        });
        break;
      }
      case RecordType.COPYUP: {
        const v = this.volume(rec.vol);
        this.checkExtents(rec.q, 1);
        if (v.map.get(rec.l) !== rec.base || this.partial.has(rec.q) || this.refs[rec.q] !== 0) {
          throw new PoolCorruptError(`copy-up of ${v.name}@${rec.l} does not match the map`);
        }
        this.unreserve(rec.q);
        this.ref(rec.base);
        // Tentative grains of an earlier life of q mean nothing now.
        if (this.tentative.size !== 0) for (let g = 0; g < this.grains; g++) this.dropTentative(rec.q * MAX_GRAINS + g);
        this.setPartial(rec.q, { base: rec.base, bits: new Uint32Array(GRAIN_WORDS), live: new Uint32Array(GRAIN_WORDS) });
        this.mapSet(v, rec.l, rec.q);
        break;
      }
      case RecordType.GRAINS: {
        const part = this.partial.get(rec.q);
        if (part === undefined) throw new PoolCorruptError(`grains recorded for extent ${rec.q}, which is not partial`);
        const bits = part.bits.slice();
        const live = part.live.slice();
        for (let i = 0; i < GRAIN_WORDS; i++) { part.bits[i] |= rec.bits[i]; part.live[i] |= rec.bits[i]; }
        this.note(() => { part.bits.set(bits); part.live.set(live); });
        if (this.tentative.size !== 0) {
          for (let g = 0; g < this.grains; g++) if (hasGrain(rec.bits, g)) this.dropTentative(rec.q * MAX_GRAINS + g);
        }
        // Every grain is its own now: the base is no longer read through this extent.
        if (hasAllGrains(part.bits, this.grains)) {
          this.setPartial(rec.q, undefined);
          this.unref(part.base);
        }
        break;
      }
      case RecordType.TGRAIN: {
        if (rec.g >= this.grains) throw new PoolCorruptError(`tentative grain ${rec.g} past the extent's ${this.grains}`);
        const part = this.partial.get(rec.q);
        // Recorded already (or q completed meanwhile): the data's place is durable, whatever it holds.
        if (part === undefined || hasGrain(part.bits, rec.g)) break;
        const key = rec.q * MAX_GRAINS + rec.g;
        const old = this.tentative.get(key);
        this.tentative.set(key, old === undefined ? [rec.crc] : [old[old.length - 1], rec.crc]);
        this.note(() => { if (old === undefined) this.tentative.delete(key); else this.tentative.set(key, old); });
        break;
      }
    }
  }

  // ---- primitives: every change goes through these, so applyUndoable can invert it ----

  private note(undo: () => void): void {
    this.undoLog?.push(undo);
  }

  private mapSet(e: Entry, l: number, p: number): void {
    const old = e.map.get(l);
    e.map.set(l, p);
    this.refs[p]++;
    this.note(() => { this.refs[p]--; if (old < 0) e.map.delete(l); else e.map.set(l, old); });
    if (old >= 0) this.unref(old);
  }

  private mapDelete(e: Entry, l: number): void {
    const old = e.map.delete(l);
    if (old < 0) return;
    this.note(() => { e.map.set(l, old); });
    this.unref(old);
  }

  /**
   * Unmaps everything `e` maps. Extents others still reference just lose a count (one
   * undo entry for all of them); the rest go through unref (orphans, partial bases).
   */
  private clearMap(e: Entry): void {
    const pairs: number[] = [];
    e.map.forEachMapped(0, this.extentsFor(e.sizeBytes), (l, p) => { pairs.push(l, p); });
    const refs = this.refs;
    const counted: number[] = [];
    e.map.clear();
    this.note(() => {
      for (let i = 0; i < pairs.length; i += 2) e.map.set(pairs[i], pairs[i + 1]);
      for (const p of counted) refs[p]++;
    });
    for (let i = 1; i < pairs.length; i += 2) {
      const p = pairs[i];
      if (refs[p] > 1) { refs[p]--; counted.push(p); } else this.unref(p);
    }
  }

  private ref(p: number): void {
    this.refs[p]++;
    this.note(() => { this.refs[p]--; });
  }

  /** Drops one reference; the last one orphans the extent (and drops its base's, if partial). */
  private unref(p: number): void {
    if (this.refs[p] === 0) throw new PoolCorruptError(`extent ${p} lost a reference it did not have`);
    this.refs[p]--;
    this.note(() => { this.refs[p]++; });
    if (this.refs[p] !== 0) return;
    this.reserve(p);
    this.orphans.push(p);
    const part = this.partial.get(p);
    if (part !== undefined) {
      this.setPartial(p, undefined);
      this.unref(part.base);
    }
  }

  private dropTentative(key: number): void {
    const old = this.tentative.get(key);
    if (old === undefined) return;
    this.tentative.delete(key);
    this.note(() => { this.tentative.set(key, old); });
  }

  private setPartial(q: number, part: PartialExtent | undefined): void {
    const old = this.partial.get(q);
    if (part === undefined) this.partial.delete(q); else this.partial.set(q, part);
    this.note(() => { if (old === undefined) this.partial.delete(q); else this.partial.set(q, old); });
  }

  private reserve(p: number): void {
    if (this.reserved.has(p)) return;
    this.reserved.add(p);
    this.note(() => { this.reserved.delete(p); });
  }

  private unreserve(p: number): void {
    if (!this.reserved.delete(p)) return;
    this.note(() => { this.reserved.add(p); });
  }

  private setState(s: SnapshotMeta, state: SnapshotState): void {
    const was = s.state;
    s.state = state;
    this.note(() => { s.state = was; });
  }

  private checkExtents(p: number, count: number): void {
    if (count < 1 || p + count > this.extentCount) throw new PoolCorruptError('extent run past the end of the pool');
  }
}
