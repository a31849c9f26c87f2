import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from './pool.ts';
import { diskTempDir, KiB, MiB, pattern, tempDir } from './pool_test_util.ts';

const ES = 64 * KiB;

/** fdatasyncs on the pool file's own descriptor (ownership beats use others). */
function countSyncs(t: { after: (fn: () => unknown) => void }, fd: () => number): () => number {
  let n = 0;
  const orig = { async: fs.fdatasync, sync: fs.fdatasyncSync };
  mock.method(fs, 'fdatasync', (f: number, cb: fs.NoParamCallback) => {
    if (f === fd()) n++;
    orig.async(f, cb);
  });
  mock.method(fs, 'fdatasyncSync', (f: number) => {
    if (f === fd()) n++;
    orig.sync(f);
  });
  t.after(() => mock.restoreAll());
  return () => n;
}

test('a flush costs only what its own volume changed since the last sync began', async (t) => {
  const { dir, cleanup } = tempDir();
  const pool = await Pool.create(path.join(dir, 'p'), { name: 'x', sizeBytes: 64 * MiB, extentSize: ES });
  t.after(async () => { await pool.close(); cleanup(); });
  await pool.createVolume({ name: 'a', sizeBytes: 4 * MiB, thin: true });
  await pool.createVolume({ name: 'b', sizeBytes: 4 * MiB, thin: false });
  const a = pool.openVolume('a');
  const b = pool.openVolume('b');
  const syncs = countSyncs(t, () => pool.file.fd);
  const delta = async (op: () => Promise<unknown>): Promise<number> => {
    const before = syncs();
    await op();
    return syncs() - before;
  };

  // A thin first write may refill the pool's reserve of zeroed extents, which syncs.
  await a.write(0, pattern(4 * KiB, 1), false);
  await a.flush();
  assert.equal(await delta(() => a.flush()), 0, 'nothing changed since');
  assert.equal(await delta(() => a.write(8, pattern(4 * KiB, 2), false)), 0, 'a write alone does not sync');
  assert.equal(await delta(() => a.flush()), 1);

  await b.write(0, pattern(4 * KiB, 3), false);
  assert.equal(await delta(() => a.flush()), 0, 'the other volume\'s writes are not this flush\'s business');
  assert.equal(await delta(() => b.flush()), 1);
  assert.equal(await delta(() => b.write(16, pattern(4 * KiB, 4), true)), 1, 'a FUA write syncs once');
  assert.equal(await delta(() => b.flush()), 0, 'the FUA write\'s sync covered it');

  await a.unmap(0, ES / 512);
  assert.equal(await delta(() => a.flush()), 1, 'the UNMAP record went in after the unmap\'s own sync');
  assert.equal(await delta(() => Promise.all([a.flush(), a.flush(), b.flush()])), 0);
  await Promise.all([a.write(0, pattern(4 * KiB, 5), false), b.write(0, pattern(4 * KiB, 6), false)]);
  assert.equal(await delta(() => Promise.all([a.flush(), a.flush(), b.flush()])), 1, 'concurrent flushes share one fdatasync');
  assert.deepEqual(await a.read(0, 8), pattern(4 * KiB, 5));
});

test('a volume committing (write, flush, write, flush) gets its fdatasync started as each write completes; bulk writes never do', async (t) => {
  // The checkout's disk: on tmpfs a flush's fdatasync runs inline and is never anticipated.
  const dir = diskTempDir('berth-commit-');
  const pool = await Pool.create(path.join(dir, 'p'), { name: 'x', sizeBytes: 64 * MiB, extentSize: ES });
  t.after(async () => { await pool.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  assert.equal(pool.file.onTmpfs, false, `${dir} must not be on tmpfs for this test`);
  await pool.createVolume({ name: 'db', sizeBytes: 4 * MiB, thin: false });
  await pool.createVolume({ name: 'bulk', sizeBytes: 4 * MiB, thin: false });
  const db = pool.openVolume('db');
  const bulk = pool.openVolume('bulk');
  const syncs = countSyncs(t, () => pool.file.fd);

  const atWrite: number[] = [];
  const atFlush: number[] = [];
  for (let c = 0; c < 30; c++) {
    const before = syncs();
    await db.write(c * 8, pattern(4 * KiB, c), false);
    // It starts once the write's response has gone out (two event-loop turns on).
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    atWrite.push(syncs() - before);
    const mid = syncs();
    await db.flush();
    atFlush.push(syncs() - mid);
  }
  assert.deepEqual(atWrite.slice(0, 8), [0, 0, 0, 0, 0, 0, 0, 0], 'not before the pattern is established');
  assert.deepEqual(atWrite.slice(20), Array(10).fill(1), 'each commit\'s fdatasync starts with its write');
  assert.deepEqual(atFlush.slice(20), Array(10).fill(0), 'and serves its flush');

  const before = syncs();
  for (let i = 0; i < 200; i++) await bulk.write((i % 64) * 8, pattern(4 * KiB, i), false);
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  assert.equal(syncs() - before, 0, 'writes without flushes start none');
  for (let c = 0; c < 30; c++) assert.deepEqual(await db.read(c * 8, 8), pattern(4 * KiB, c));
});
