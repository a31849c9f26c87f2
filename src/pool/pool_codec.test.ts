import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decodeSuperblock, encodeSuperblock, type Superblock } from './pool_superblock.ts';
import { POOL_FORMAT_VERSION, computeLayout } from './pool_layout.ts';
import { decodeCheckpoint, decodeCheckpointHead, encodeCheckpoint } from './pool_checkpoint.ts';
import { PoolModel } from './pool_model.ts';
import { RecordType, decodeRecords, encodeRecord, type JournalRecord } from './pool_journal_record.ts';
import { checkJournalBlock, encodeJournalBlock, packRecords, JOURNAL_PAYLOAD_BYTES } from './pool_journal_block.ts';
import { uuidToBytes } from './pool_bytes.ts';
import { errorCode } from '../util/errors.ts';

function sampleSuperblock(): Superblock {
  return {
    formatVersion: 1, uuid: randomUUID(), name: 'pool-a', createdAtMs: 1_700_000_000_000, flags: 1,
    layout: computeLayout(10 * 1024 ** 3, 1024 * 1024),
  };
}

test('superblock round-trips', () => {
  const sb = sampleSuperblock();
  assert.deepEqual(decodeSuperblock(encodeSuperblock(sb)), sb);
});

test('superblock: any flipped byte is detected, never silently accepted', () => {
  const good = encodeSuperblock(sampleSuperblock());
  for (let i = 0; i < 188; i++) {
    const bad = Buffer.from(good);
    bad[i] ^= 0x40;
    assert.throws(() => decodeSuperblock(bad), (e) => ['POOL_CORRUPT', 'POOL_NOT_FOUND', 'POOL_VERSION'].includes(errorCode(e) ?? ''));
  }
  const future = Buffer.from(good);
  future.writeUInt32LE(POOL_FORMAT_VERSION + 1, 8);
  assert.throws(() => decodeSuperblock(future), (e) => errorCode(e) === 'POOL_VERSION');
  const v0 = Buffer.from(good);
  v0.writeUInt32LE(0, 8);
  assert.throws(() => decodeSuperblock(v0), (e) => errorCode(e) === 'POOL_VERSION');
  assert.throws(() => decodeSuperblock(Buffer.alloc(4096)), (e) => errorCode(e) === 'POOL_NOT_FOUND');
});

function sampleModel(): PoolModel {
  const m = new PoolModel(1000, 1024 * 1024);
  m.hwm = 900;
  m.apply({ type: RecordType.VOL_CREATE, volume: { id: 1, uuid: randomUUID(), name: 'v1', sizeBytes: 2 ** 46, blockSize: 512, thin: true, createdAtMs: 5 } });
  m.apply({ type: RecordType.VOL_CREATE, volume: { id: 2, uuid: randomUUID(), name: 'v2', sizeBytes: 8 * 2 ** 20, blockSize: 4096, thin: false, createdAtMs: 6 } });
  m.apply({ type: RecordType.RESERVE, start: 10, count: 20 });
  m.apply({ type: RecordType.MAP, vol: 1, l: 2 ** 25, p: 10, count: 3 });
  m.apply({ type: RecordType.MAP, vol: 1, l: 7, p: 14, count: 1 });
  m.apply({ type: RecordType.MAP, vol: 2, l: 0, p: 100, count: 8 });
  m.apply({ type: RecordType.VOL_DELETING, vol: 2 });
  m.apply({ type: RecordType.SNAP_CREATE, snapshot: { id: 3, uuid: randomUUID(), name: 's1', sourceId: 1, sizeBytes: 2 ** 46, blockSize: 512, createdAtMs: 8 } });
  m.apply({ type: RecordType.MAP, vol: 3, l: 7, p: 200, count: 2 });
  m.apply({ type: RecordType.SNAP_READY, snap: 3 });
  m.apply({ type: RecordType.SNAP_CREATE, snapshot: { id: 4, uuid: randomUUID(), name: 's2', sourceId: 2, sizeBytes: 8 * 2 ** 20, blockSize: 4096, createdAtMs: 9 } });
  m.apply({ type: RecordType.VOL_CREATE, volume: { id: 5, uuid: randomUUID(), name: 'c1', sizeBytes: 2 ** 20, blockSize: 512, thin: true, filling: true, createdAtMs: 10 } });
  return m;
}

function snapshot(m: PoolModel): unknown {
  const vols = [...m.volumes.values()].map((v) => {
    const runs: number[][] = [];
    v.map.forEachRun((l, p, n) => runs.push([l, p, n]));
    return { ...v, map: runs };
  });
  const snaps = [...m.snapshots.values()].map((v) => {
    const runs: number[][] = [];
    v.map.forEachRun((l, p, n) => runs.push([l, p, n]));
    return { ...v, map: runs };
  });
  return { hwm: m.hwm, next: m.nextVolumeId, reserved: [...m.reserved].sort((a, b) => a - b), vols, snaps };
}

test('checkpoint round-trips the model', () => {
  const m = sampleModel();
  const uuid = randomUUID();
  const img = encodeCheckpoint(m, uuid, 7, 1234);
  const head = decodeCheckpointHead(img, uuid, 1 << 20);
  assert.deepEqual(head, { totalBytes: img.length, generation: 7, nonce: 1234 });
  const back = decodeCheckpoint(img, 1000, 1024 * 1024);
  assert.ok(back);
  assert.deepEqual(snapshot(back), snapshot(m));
  assert.equal(decodeCheckpointHead(img, randomUUID(), 1 << 20), null, 'another pool\'s checkpoint is ignored');
});

test('checkpoint: corruption anywhere past the header magic is detected', () => {
  const m = sampleModel();
  const img = encodeCheckpoint(m, randomUUID(), 3, 9);
  for (let i = 4; i < img.length; i++) {
    const bad = Buffer.from(img);
    bad[i] ^= 0x01;
    let ok: PoolModel | null = null;
    try { ok = decodeCheckpoint(bad, 1000, 1024 * 1024); } catch { ok = null; }
    assert.equal(ok, null, `flip at ${i} went unnoticed`);
  }
});

test('checkpoint slot holds the worst case: every extent its own run', () => {
  const layout = computeLayout(300 * 1024 * 1024, 64 * 1024, 256 * 1024, 4);
  const m = new PoolModel(layout.extentCount, layout.extentSize);
  for (let id = 1; id <= 4; id++) {
    m.apply({ type: RecordType.VOL_CREATE, volume: { id, uuid: randomUUID(), name: 'x'.repeat(60) + id, sizeBytes: 2 ** 40, blockSize: 512, thin: true, createdAtMs: 1 } });
  }
  for (let p = 0; p < layout.extentCount; p++) m.apply({ type: RecordType.MAP, vol: 1 + (p % 4), l: p * 2, p, count: 1 });
  const img = encodeCheckpoint(m, randomUUID(), 1, 1);
  assert.ok(img.length <= layout.slotBytes, `${img.length} > ${layout.slotBytes}`);
});

const allRecords: JournalRecord[] = [
  { type: RecordType.HWM, hwm: 77 },
  { type: RecordType.RESERVE, start: 5, count: 64 },
  { type: RecordType.MAP, vol: 3, l: 0xfffffff0, p: 12, count: 2 },
  { type: RecordType.UNMAP, vol: 3, l: 9, count: 4 },
  { type: RecordType.VOL_CREATE, volume: { id: 3, uuid: randomUUID(), name: 'a'.repeat(64), sizeBytes: 2 ** 50, blockSize: 4096, thin: false, filling: false, createdAtMs: 1_700_000_000_123 } },
  { type: RecordType.VOL_CREATE, volume: { id: 4, uuid: randomUUID(), name: 'clone', sizeBytes: 2 ** 20, blockSize: 512, thin: true, filling: true, createdAtMs: 5 } },
  { type: RecordType.VOL_FILLED, vol: 4 },
  { type: RecordType.SNAP_CREATE, snapshot: { id: 5, uuid: randomUUID(), name: 's'.repeat(64), sourceId: 3, sizeBytes: 2 ** 50, blockSize: 4096, createdAtMs: 7 } },
  { type: RecordType.SNAP_READY, snap: 5 },
  { type: RecordType.SNAP_DELETING, snap: 5 },
  { type: RecordType.SNAP_DELETE, snap: 5 },
  { type: RecordType.VOL_RESIZE, vol: 3, sizeBytes: 2 ** 47 + 4096 },
  { type: RecordType.VOL_DELETING, vol: 3 },
  { type: RecordType.VOL_DELETE, vol: 3 },
];

test('journal records round-trip; truncation and unknown types are corruption', () => {
  const enc = Buffer.concat(allRecords.map(encodeRecord));
  assert.deepEqual(decodeRecords(enc, 0, enc.length), allRecords);
  assert.throws(() => decodeRecords(enc, 0, enc.length - 1), (e) => errorCode(e) === 'POOL_CORRUPT');
  assert.throws(() => decodeRecords(Buffer.from([99]), 0, 1), (e) => errorCode(e) === 'POOL_CORRUPT');
});

test('journal blocks: packed, framed, and rejected on wrong epoch, sequence or checksum', () => {
  const recs = Array.from({ length: 600 }, (_, i) => encodeRecord({ type: RecordType.MAP, vol: 1, l: i, p: i, count: 1 }));
  const blocks = packRecords(recs);
  assert.equal(blocks.length, Math.ceil(600 / Math.floor(JOURNAL_PAYLOAD_BYTES / 17)));
  const epoch = { uuid: uuidToBytes(randomUUID()), generation: 12, nonce: 0xdeadbeef };
  const buf = Buffer.alloc(blocks.length * 4096);
  blocks.forEach((b, i) => encodeJournalBlock(buf, i * 4096, epoch, i, b));
  const got: JournalRecord[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const r = checkJournalBlock(buf, i * 4096, epoch, i);
    assert.ok(r);
    got.push(...decodeRecords(buf, r.start, r.end));
  }
  assert.equal(got.length, 600);
  assert.equal(checkJournalBlock(buf, 0, epoch, 1), null, 'sequence');
  assert.equal(checkJournalBlock(buf, 0, { ...epoch, generation: 13 }, 0), null, 'generation');
  assert.equal(checkJournalBlock(buf, 0, { ...epoch, nonce: 1 }, 0), null, 'nonce');
  assert.equal(checkJournalBlock(buf, 0, { ...epoch, uuid: uuidToBytes(randomUUID()) }, 0), null, 'pool');
  for (const at of [0, 4, 30, 100, 4095]) {
    const bad = Buffer.from(buf.subarray(0, 4096));
    bad[at] ^= 0x80;
    assert.equal(checkJournalBlock(bad, 0, epoch, 0), null, `flip at ${at}`);
  }
});
