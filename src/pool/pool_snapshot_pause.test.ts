import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from './pool.ts';
import { KiB, MiB, pattern, tempDir } from './pool_test_util.ts';

// The write pause of a snapshot (docs/pool-format.md §12): what it waits for and what a
// crash inside it leaves.

const ES = 64 * KiB;
const same = (got: Buffer, want: Buffer, msg?: string): void => assert.ok(got.equals(want), msg ?? 'data differs');

async function freshPool(t: { after: (fn: () => void) => void }): Promise<{ pool: Pool; file: string; dir: string }> {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  return { pool: await Pool.create(file, { name: 'tank', sizeBytes: 32 * MiB, extentSize: ES }), file, dir };
}

/** What a snapshot holds: read through a clone of it. */
async function snapshotData(pool: Pool, snap: string, clone: string, blocks: number): Promise<Buffer> {
  await pool.createVolumeFromSnapshot({ name: clone, snapshot: snap });
  return pool.openVolume(clone).read(0, blocks);
}

test('writes held by a snapshot resume once its batch is written; a kill -9 before its fdatasync keeps the snapshot with exactly the writes before it', { timeout: 60_000 }, async (t) => {
  const { pool, file, dir } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB });
  const v = pool.openVolume('v');
  await v.write(0, pattern(8 * KiB, 1), false);
  await v.flush();

  await pool.verify(); // no reserve refill left running: the syncs below are the snapshot's

  // Once the snapshot holds the volume's writes, one is issued (the hold must queue it);
  // of the journal's fdatasyncs from then on, the first is the share's sync-before and the
  // second, making the share durable, waits for the test.
  const hold = v.holdWrites.bind(v);
  let afterWrite!: Promise<void>;
  let calls = -1;
  v.holdWrites = async () => {
    const release = await hold();
    afterWrite = v.write(0, pattern(8 * KiB, 2), false);
    calls = 0;
    return release;
  };
  const sync = pool.file.sync.bind(pool.file);
  let releaseSync!: () => void;
  const secondSync = new Promise<void>((r) => { releaseSync = r; });
  let secondStarted!: () => void;
  const started = new Promise<void>((r) => { secondStarted = r; });
  pool.file.sync = async () => {
    if (calls >= 0) calls++;
    if (calls === 2) {
      secondStarted();
      await secondSync;
    }
    return sync();
  };
  let answered = false;
  const snap = pool.createSnapshot('v', 's').then((info) => { answered = true; return info; });
  await started;
  // The old pause released writes only after this fdatasync: the write would wait for it.
  await afterWrite;
  assert.equal(answered, false, 'the snapshot is answered only once durable');

  // kill -9 now: the page cache (what this copy reads) keeps every completed write.
  const crashCopy = path.join(dir, 'crash');
  fs.copyFileSync(file, crashCopy);
  releaseSync();
  assert.equal((await snap).name, 's');
  pool.file.sync = sync;
  same(await v.read(0, 16), pattern(8 * KiB, 2));
  same(await snapshotData(pool, 's', 'c', 16), pattern(8 * KiB, 1));
  assert.deepEqual((await pool.verify()).problems, []);
  await pool.close();

  const crashed = await Pool.import(crashCopy);
  t.after(() => crashed.close());
  assert.deepEqual(crashed.listSnapshots().map((s) => [s.name, s.state]), [['s', 'ready']]);
  same(await crashed.openVolume('v').read(0, 16), pattern(8 * KiB, 2), 'the write after the snapshot');
  same(await snapshotData(crashed, 's', 'c', 16), pattern(8 * KiB, 1), 'the snapshot without it');
  assert.deepEqual((await crashed.verify({ checkFreeZeroed: true })).problems, []);
});

test('a snapshot flushes its volume before holding its writes', async (t) => {
  const { pool } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB });
  const v = pool.openVolume('v');
  await v.write(0, pattern(8 * KiB, 1), false);
  const calls: string[] = [];
  const flush = v.flush.bind(v);
  const hold = v.holdWrites.bind(v);
  // The first three flushes are slow (as under a write load on disk), the rest quick.
  let slow = 3;
  v.flush = async () => {
    calls.push('flush');
    if (slow-- > 0) await new Promise((r) => setTimeout(r, 25));
    return flush();
  };
  v.holdWrites = () => { calls.push('hold'); return hold(); };
  await pool.createSnapshot('v', 's');
  const flushes = calls.filter((c) => c === 'flush').length;
  assert.equal(calls.at(-1), 'hold');
  assert.equal(calls.indexOf('hold'), flushes, 'every flush before the hold');
  // Rounds go on while they take long; they stop at the first quick one (a slow machine
  // may need a few more, never more than eight).
  assert.ok(flushes >= 4 && flushes <= 8, `${flushes} flushes`);
  await pool.close();
});
