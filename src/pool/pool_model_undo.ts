import { RecordType, type JournalRecord } from './pool_journal_record.ts';
import type { PoolModel } from './pool_model.ts';

/**
 * What puts the model back as it was before `rec` is applied. Take it just before
 * `model.apply(rec)`; run the undos of a failed journal write newest first. The runtime
 * applies a change to the model when it queues its records, so a write the journal
 * could not make (the host full, an I/O error) must be taken back, or the next
 * checkpoint would make durable a change its caller was told had failed — and a caller
 * that hands its extents back on failure would leave them owned and free at once.
 * Pure: no I/O, exact inverse of PoolModel.apply for a record apply accepts.
 */
export function undoFor(model: PoolModel, rec: JournalRecord): () => void {
  switch (rec.type) {
    case RecordType.HWM: {
      const hwm = model.hwm;
      return () => { model.hwm = hwm; };
    }
    case RecordType.RESERVE: {
      const added: number[] = [];
      for (let i = 0; i < rec.count; i++) if (!model.reserved.has(rec.start + i)) added.push(rec.start + i);
      return () => { for (const p of added) model.reserved.delete(p); };
    }
    case RecordType.MAP: {
      const owner = model.volumes.get(rec.vol) ?? model.snapshots.get(rec.vol);
      if (owner === undefined) return noop;
      const before: number[] = [];
      const wasReserved: boolean[] = [];
      for (let i = 0; i < rec.count; i++) {
        before.push(owner.map.get(rec.l + i));
        wasReserved.push(model.reserved.has(rec.p + i));
      }
      return () => {
        for (let i = 0; i < rec.count; i++) {
          if (before[i] < 0) owner.map.delete(rec.l + i); else owner.map.set(rec.l + i, before[i]);
          if (wasReserved[i]) model.reserved.add(rec.p + i);
        }
      };
    }
    case RecordType.UNMAP: {
      const v = model.volumes.get(rec.vol);
      if (v === undefined) return noop;
      const before: number[] = [];
      for (let i = 0; i < rec.count; i++) before.push(v.map.get(rec.l + i));
      return () => { before.forEach((p, i) => { if (p >= 0) v.map.set(rec.l + i, p); }); };
    }
    case RecordType.VOL_CREATE:
      return undoCreate(model, model.volumes, model.byName, rec.volume.id);
    case RecordType.VOL_FILLED:
    case RecordType.VOL_DELETING:
    case RecordType.VOL_RESIZE:
    case RecordType.VOL_DELETE: {
      const v = model.volumes.get(rec.vol);
      if (v === undefined) return noop;
      const { filling, deleting, sizeBytes } = v;
      return () => {
        v.filling = filling;
        v.deleting = deleting;
        v.sizeBytes = sizeBytes;
        model.volumes.set(v.id, v);
        model.byName.set(v.name, v);
      };
    }
    case RecordType.SNAP_CREATE:
      return undoCreate(model, model.snapshots, model.snapshotsByName, rec.snapshot.id);
    case RecordType.SNAP_READY:
    case RecordType.SNAP_DELETING:
    case RecordType.SNAP_DELETE: {
      const s = model.snapshots.get(rec.snap);
      if (s === undefined) return noop;
      const state = s.state;
      return () => {
        s.state = state;
        model.snapshots.set(s.id, s);
        model.snapshotsByName.set(s.name, s);
      };
    }
  }
}

/** A new volume or snapshot entry goes again, and so does the id it took. */
function undoCreate<T extends { name: string }>(model: PoolModel, byId: Map<number, T>, byName: Map<string, T>, id: number): () => void {
  const next = model.nextVolumeId;
  return () => {
    const e = byId.get(id);
    byId.delete(id);
    if (e !== undefined && byName.get(e.name) === e) byName.delete(e.name);
    model.nextVolumeId = next;
  };
}

function noop(): void {}
