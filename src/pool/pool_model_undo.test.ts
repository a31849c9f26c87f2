import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoolModel } from './pool_model.ts';
import { RecordType, type JournalRecord } from './pool_journal_record.ts';

const UUID = '00000000-0000-4000-8000-000000000001';

/** Everything a checkpoint would store, in a comparable shape. */
function state(m: PoolModel): unknown {
  const maps = (e: { map: { forEachRun: (fn: (l: number, p: number, c: number) => void) => void } }) => {
    const runs: number[][] = [];
    e.map.forEachRun((l, p, c) => runs.push([l, p, c]));
    return runs;
  };
  return {
    hwm: m.hwm, next: m.nextVolumeId, reserved: [...m.reserved].sort((a, b) => a - b), refs: [...m.refs],
    partial: [...m.partial].map(([q, p]) => [q, p.base, [...p.bits], [...p.live]]).sort((a, b) => (a[0] as number) - (b[0] as number)),
    volumes: [...m.volumes.values()].map((v) => ({ ...v, map: maps(v) })).sort((a, b) => a.id - b.id),
    byName: [...m.byName.keys()].sort(),
    snapshots: [...m.snapshots.values()].map((s) => ({ ...s, map: maps(s) })).sort((a, b) => a.id - b.id),
    snapshotsByName: [...m.snapshotsByName.keys()].sort(),
  };
}

function model(): PoolModel {
  const m = new PoolModel(64, 1 << 20);
  m.hwm = 32;
  for (const rec of [
    { type: RecordType.VOL_CREATE, volume: { id: 1, uuid: UUID, name: 'a', sizeBytes: 8 << 20, blockSize: 512, thin: true, createdAtMs: 1 } },
    { type: RecordType.RESERVE, start: 10, count: 6 },
    { type: RecordType.MAP, vol: 1, l: 0, p: 10, count: 2 },
    { type: RecordType.SNAP_CREATE, snapshot: { id: 2, uuid: UUID, name: 's', sourceId: 1, sizeBytes: 8 << 20, blockSize: 512, createdAtMs: 2 } },
    { type: RecordType.MAP, vol: 2, l: 0, p: 20, count: 1 },
    { type: RecordType.VOL_CREATE, volume: { id: 3, uuid: UUID, name: 'c', sizeBytes: 8 << 20, blockSize: 512, thin: true, filling: true, createdAtMs: 5 } },
    // A partial extent: volume 4 shares volume 1's extents, then copies up extent 0 into 14.
    { type: RecordType.VOL_CREATE, volume: { id: 4, uuid: UUID, name: 'd', sizeBytes: 8 << 20, blockSize: 512, thin: true, createdAtMs: 6 } },
    { type: RecordType.SHARE, dst: 4, src: 1 },
    { type: RecordType.COPYUP, vol: 4, l: 0, q: 14, base: 10 },
  ] as JournalRecord[]) m.apply(rec);
  return m;
}

const records: [string, JournalRecord][] = [
  ['HWM', { type: RecordType.HWM, hwm: 40 }],
  ['RESERVE over a reserved extent', { type: RecordType.RESERVE, start: 14, count: 6 }],
  ['MAP from the reserve', { type: RecordType.MAP, vol: 1, l: 2, p: 12, count: 2 }],
  ['MAP over a mapped extent', { type: RecordType.MAP, vol: 1, l: 1, p: 30, count: 1 }],
  ['UNMAP', { type: RecordType.UNMAP, vol: 1, l: 0, count: 2 }],
  ['VOL_CREATE', { type: RecordType.VOL_CREATE, volume: { id: 7, uuid: UUID, name: 'b', sizeBytes: 1 << 20, blockSize: 4096, thin: false, createdAtMs: 3 } }],
  ['VOL_RESIZE', { type: RecordType.VOL_RESIZE, vol: 1, sizeBytes: 16 << 20 }],
  ['VOL_DELETING', { type: RecordType.VOL_DELETING, vol: 1 }],
  ['VOL_DELETE', { type: RecordType.VOL_DELETE, vol: 1 }],
  ['VOL_FILLED', { type: RecordType.VOL_FILLED, vol: 3 }],
  ['SNAP_CREATE', { type: RecordType.SNAP_CREATE, snapshot: { id: 9, uuid: UUID, name: 't', sourceId: 1, sizeBytes: 1 << 20, blockSize: 512, createdAtMs: 4 } }],
  ['SNAP_READY', { type: RecordType.SNAP_READY, snap: 2 }],
  ['SNAP_DELETING', { type: RecordType.SNAP_DELETING, snap: 2 }],
  ['SNAP_DELETE', { type: RecordType.SNAP_DELETE, snap: 2 }],
  ['SHARE', { type: RecordType.SHARE, dst: 3, src: 1 }],
  ['COPYUP', { type: RecordType.COPYUP, vol: 1, l: 1, q: 13, base: 11 }],
  ['GRAINS on a partial extent', { type: RecordType.GRAINS, q: 14, bits: new Uint32Array([1, 0, 0, 0, 0, 0, 0, 0]) }],
  ['GRAINS completing a partial extent (drops its base)', { type: RecordType.GRAINS, q: 14, bits: new Uint32Array(8).fill(0xffff_ffff) }],
];

for (const [what, rec] of records) {
  test(`undo of ${what} restores the model exactly`, () => {
    const m = model();
    const before = state(m);
    const undo = m.applyUndoable(rec);
    assert.notDeepEqual(state(m), before, 'the record changed something');
    undo();
    assert.deepEqual(state(m), before);
  });
}

test('a batch undone newest first restores the model, whatever the records share', () => {
  const m = model();
  const before = state(m);
  const batch: JournalRecord[] = [
    { type: RecordType.HWM, hwm: 48 },
    { type: RecordType.RESERVE, start: 40, count: 4 },
    { type: RecordType.VOL_CREATE, volume: { id: 7, uuid: UUID, name: 'b', sizeBytes: 4 << 20, blockSize: 512, thin: false, createdAtMs: 3 } },
    { type: RecordType.MAP, vol: 7, l: 0, p: 40, count: 4 },
    { type: RecordType.HWM, hwm: 56 },
    { type: RecordType.VOL_RESIZE, vol: 1, sizeBytes: 12 << 20 },
    { type: RecordType.MAP, vol: 1, l: 8, p: 44, count: 2 },
  ];
  const undos = batch.map((r) => m.applyUndoable(r));
  for (let i = undos.length - 1; i >= 0; i--) undos[i]();
  assert.deepEqual(state(m), before);
});
