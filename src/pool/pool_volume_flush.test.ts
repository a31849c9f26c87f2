import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from './pool.ts';
import { KiB, MiB, pattern, tempDir } from './pool_test_util.ts';

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
