import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PoolJournal, JOURNAL_DURABLE, JOURNAL_SYNC_BEFORE } from './pool_journal.ts';
import { computeLayout } from './pool_layout.ts';
import { RecordType, decodeRecords, encodeRecord } from './pool_journal_record.ts';
import { checkJournalBlock } from './pool_journal_block.ts';
import { uuidToBytes } from './pool_bytes.ts';
import type { PoolFile } from './pool_file.ts';

/** A file that records the order of writes and syncs, completing each on a later tick. */
function fakeFile(): { file: PoolFile; events: string[]; disk: Map<number, Buffer> } {
  const events: string[] = [];
  const disk = new Map<number, Buffer>();
  const file = {
    fd: -1,
    write(buf: Buffer, off: number, len: number, pos: number): Promise<void> {
      events.push(`write@${pos}+${len}`);
      disk.set(pos, Buffer.from(buf.subarray(off, off + len)));
      return new Promise((r) => setImmediate(r));
    },
    sync(): Promise<void> {
      events.push('sync');
      return new Promise((r) => setImmediate(r));
    },
    writeDurable(buf: Buffer, pos: number): Promise<void> {
      events.push(`durable-write@${pos}+${buf.length}`);
      disk.set(pos, Buffer.from(buf));
      return new Promise((r) => setImmediate(r));
    },
  } as unknown as PoolFile;
  return { file, events, disk };
}

const layout = computeLayout(64 * 1024 * 1024, 64 * 1024, 16 * 1024);
const map = (l: number) => encodeRecord({ type: RecordType.MAP, vol: 1, l, p: l, count: 1 });

test('group commit: appends made while a write is in flight go out together, in order', async () => {
  const { file, events, disk } = fakeFile();
  const uuid = randomUUID();
  let checkpoints = 0;
  const j = new PoolJournal({ file, layout, uuid: uuidToBytes(uuid), generation: 5, nonce: 77, makeCheckpoint: () => { checkpoints++; return Buffer.alloc(64); } });
  const first = j.append([map(0)]);
  const rest = Array.from({ length: 50 }, (_, i) => j.append([map(i + 1)]));
  await Promise.all([first, ...rest]);
  assert.deepEqual(events, [`write@${layout.journalOffset}+4096`, `write@${layout.journalOffset + 4096}+4096`]);
  assert.equal(checkpoints, 0);
  const epoch = { uuid: uuidToBytes(uuid), generation: 5, nonce: 77 };
  const got: number[] = [];
  for (let seq = 0; seq < 2; seq++) {
    const blk = disk.get(layout.journalOffset + seq * 4096)!;
    const r = checkJournalBlock(blk, 0, epoch, seq);
    assert.ok(r);
    for (const rec of decodeRecords(blk, r.start, r.end)) if (rec.type === RecordType.MAP) got.push(rec.l);
  }
  assert.deepEqual(got, Array.from({ length: 51 }, (_, i) => i));
});

test('sync flags: fdatasync before a free batch and after a durable one', async () => {
  const { file, events } = fakeFile();
  const j = new PoolJournal({ file, layout, uuid: uuidToBytes(randomUUID()), generation: 1, nonce: 1, makeCheckpoint: () => Buffer.alloc(64) });
  await j.append([map(1)], JOURNAL_SYNC_BEFORE);
  await j.append([map(2)], JOURNAL_DURABLE);
  await j.append([map(3)]);
  assert.deepEqual(events.map((e) => e.split('@')[0]), ['sync', 'write', 'write', 'sync', 'write']);
});

test('a full journal rolls over: checkpoint to the other slot, then block 0 of a new epoch', async () => {
  const { file, events } = fakeFile();
  const gens: number[] = [];
  const j = new PoolJournal({ file, layout, uuid: uuidToBytes(randomUUID()), generation: 1, nonce: 1, makeCheckpoint: (g) => { gens.push(g); return Buffer.alloc(4096); } });
  for (let i = 0; i < 4; i++) await j.append([map(i)]); // fills the 4-block journal
  events.length = 0;
  // Under appends that asked only to be written, the image replaces what the journal
  // said: only its own range is made durable, not every dirty page of the file.
  await j.append([map(9)]);
  assert.deepEqual(gens, [2]);
  assert.deepEqual(events, [`durable-write@${layout.slotAOffset}+4096`]);
  assert.equal(j.generation, 2);
  events.length = 0;
  await j.append([map(10)]);
  assert.deepEqual(events, [`write@${layout.journalOffset}+4096`]);
  // A durability point behind that checkpoint still gets an fdatasync of its own.
  for (let i = 0; i < 3; i++) await j.append([map(20 + i)]);
  events.length = 0;
  await Promise.all([j.append([map(30)]), j.append([], JOURNAL_DURABLE)]);
  assert.deepEqual(events, [`durable-write@${layout.slotBOffset}+4096`, 'sync']);
  // An explicit checkpoint syncs the whole file before and after its image.
  events.length = 0;
  await j.checkpoint();
  assert.deepEqual(gens, [2, 3, 4]);
  assert.deepEqual(events, ['sync', `write@${layout.slotAOffset}+4096`, 'sync']);
});

test('a full journal rolling over under an append that asked for durability syncs the file before and after the image', async () => {
  const { file, events } = fakeFile();
  const j = new PoolJournal({ file, layout, uuid: uuidToBytes(randomUUID()), generation: 1, nonce: 1, makeCheckpoint: () => Buffer.alloc(4096) });
  for (let i = 0; i < 4; i++) await j.append([map(i)]);
  for (const flags of [JOURNAL_DURABLE, JOURNAL_SYNC_BEFORE]) {
    const g = j.generation;
    // Fill what is left of this epoch, then the append that rolls it over.
    while (j.generation === g) {
      events.length = 0;
      await j.append([map(50)], flags);
    }
    assert.deepEqual(events, ['sync', `write@${g % 2 === 1 ? layout.slotAOffset : layout.slotBOffset}+4096`, 'sync'], `flags ${flags}`);
  }
});

test('a failed write fails its batch and the queue behind it, undoes them newest first, and the next write opens a new epoch', async () => {
  const { file, events } = fakeFile();
  const write = file.write.bind(file);
  let refuse = true;
  file.write = (buf: Buffer, off: number, len: number, pos: number) => {
    if (refuse) {
      events.push(`refused@${pos}`);
      return new Promise((_r, reject) => setImmediate(() => reject(new Error('ENOSPC'))));
    }
    return write(buf, off, len, pos);
  };
  const gens: number[] = [];
  const j = new PoolJournal({ file, layout, uuid: uuidToBytes(randomUUID()), generation: 1, nonce: 1, makeCheckpoint: (g) => { gens.push(g); return Buffer.alloc(4096); } });
  const undone: number[] = [];
  const first = j.append([map(1)], 0, () => undone.push(1));
  const queued = [2, 3].map((i) => j.append([map(i)], 0, () => undone.push(i)));
  await assert.rejects(first, /ENOSPC/);
  for (const q of queued) await assert.rejects(q, /ENOSPC/);
  assert.deepEqual(undone, [3, 2, 1], 'newest first');
  assert.deepEqual(events, [`refused@${layout.journalOffset}`]);

  // Still refused: a checkpoint is tried (never block 1 of the old epoch), and fails the same way.
  events.length = 0;
  await assert.rejects(j.append([map(4)], 0, () => undone.push(4)), /ENOSPC/);
  assert.deepEqual(events, ['sync', `refused@${layout.slotAOffset}`]);
  assert.equal(j.generation, 1);

  refuse = false;
  events.length = 0;
  await j.append([map(5)]);
  assert.deepEqual(events, ['sync', `write@${layout.slotAOffset}+4096`, 'sync'], 'a checkpoint, not a journal block');
  assert.equal(j.generation, 2);
  events.length = 0;
  await j.append([map(6)]);
  assert.deepEqual(events, [`write@${layout.journalOffset}+4096`], 'then block 0 of the new epoch');
  assert.deepEqual(undone, [3, 2, 1, 4]);
});

test('a journal over an epoch it did not open checkpoints before its first append', async () => {
  const { file, events } = fakeFile();
  const j = new PoolJournal({ file, layout, uuid: uuidToBytes(randomUUID()), generation: 7, nonce: 3, needsCheckpoint: true, makeCheckpoint: () => Buffer.alloc(4096) });
  await j.append([map(1)]);
  assert.deepEqual(events, ['sync', `write@${layout.slotAOffset}+4096`, 'sync']);
  assert.equal(j.generation, 8);
});

/** fakeFile whose fdatasyncs wait for the test while `held` is set (or fail, with `failing`). */
function gatedSyncs(file: PoolFile, events: string[]): { hold: (on: boolean) => void; fail: (on: boolean) => void; release: () => void } {
  let held = false;
  let failing = false;
  const waiting: (() => void)[] = [];
  file.sync = () => {
    events.push('sync');
    if (failing) return Promise.reject(new Error('EIO'));
    return held ? new Promise<void>((r) => waiting.push(r)) : Promise.resolve();
  };
  return { hold: (on) => { held = on; }, fail: (on) => { failing = on; }, release: () => { for (const r of waiting.splice(0)) r(); } };
}

test('a durability point waits for an fdatasync after the batches before it, and later batches are written meanwhile', { timeout: 20_000 }, async () => {
  const { file, events } = fakeFile();
  const syncs = gatedSyncs(file, events);
  const j = new PoolJournal({ file, layout, uuid: uuidToBytes(randomUUID()), generation: 1, nonce: 1, makeCheckpoint: () => Buffer.alloc(64) });
  await j.append([map(1)], JOURNAL_SYNC_BEFORE);
  syncs.hold(true);
  let durable = false;
  const point = j.append([], JOURNAL_DURABLE).then(() => { durable = true; });
  // Written while the point's fdatasync runs (the old journal queued it behind that sync).
  await j.append([map(2)]);
  assert.equal(durable, false);
  assert.deepEqual(events, ['sync', `write@${layout.journalOffset}+4096`, 'sync', `write@${layout.journalOffset + 4096}+4096`]);
  syncs.release();
  await point;

  // Behind a batch that ends with an fdatasync, a point needs none of its own.
  syncs.hold(false);
  events.length = 0;
  // The first append goes out alone; the other two gather behind it into one batch.
  await Promise.all([j.append([map(3)]), j.append([map(4)], JOURNAL_DURABLE), j.append([], JOURNAL_DURABLE)]);
  assert.deepEqual(events, [`write@${layout.journalOffset + 2 * 4096}+4096`, `write@${layout.journalOffset + 3 * 4096}+4096`, 'sync']);
});

test('a failed durability point fails alone: nothing is undone and the epoch goes on', async () => {
  const { file, events } = fakeFile();
  const syncs = gatedSyncs(file, events);
  const j = new PoolJournal({ file, layout, uuid: uuidToBytes(randomUUID()), generation: 1, nonce: 1, makeCheckpoint: () => Buffer.alloc(64) });
  const undone: number[] = [];
  await j.append([map(1)], 0, () => undone.push(1));
  syncs.fail(true);
  await assert.rejects(j.append([], JOURNAL_DURABLE), /EIO/);
  syncs.fail(false);
  events.length = 0;
  await j.append([map(2)], 0, () => undone.push(2));
  assert.deepEqual(undone, []);
  assert.deepEqual(events, [`write@${layout.journalOffset + 4096}+4096`], 'block 1 of the same epoch, no checkpoint');
  assert.equal(j.generation, 1);
});
