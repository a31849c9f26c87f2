import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Pool } from './pool.ts';
import { errorCode } from '../util/errors.ts';
import { KiB, MiB, pattern, tempDir } from './pool_test_util.ts';

const code = (c: string) => (e: unknown) => errorCode(e) === c;
const ES = 64 * KiB;

async function withPool(t: { after: (fn: () => unknown) => void }, sizeBytes = 64 * MiB): Promise<Pool> {
  const { dir, cleanup } = tempDir();
  const pool = await Pool.create(path.join(dir, 'p'), { name: 'x', sizeBytes, extentSize: ES });
  t.after(async () => { await pool.close(); cleanup(); });
  return pool;
}

for (const thin of [true, false]) {
  for (const bs of [512, 4096] as const) {
    test(`${thin ? 'thin' : 'thick'} ${bs}: read/write across extents, unwritten reads zero, range checks`, async (t) => {
      const pool = await withPool(t);
      await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB, blockSize: bs, thin });
      const v = pool.openVolume('v');
      assert.equal(v.blockSize, bs);
      assert.equal(v.thin, thin);
      assert.equal(v.blockCount, 4 * MiB / bs);
      const perExtent = ES / bs;
      const data = pattern(3 * ES, 42); // starts mid-extent, spans four extents
      const lba = perExtent - 1;
      await v.write(lba, data, true);
      assert.deepEqual(await v.read(lba, data.length / bs), data);
      assert.deepEqual(await v.read(0, lba), Buffer.alloc(lba * bs));
      assert.deepEqual(await v.read(v.blockCount - 1, 1), Buffer.alloc(bs));
      assert.equal(pool.volumeInfo('v').allocatedBytes, thin ? 4 * ES : 4 * MiB);
      await assert.rejects(v.read(v.blockCount, 1), code('OUT_OF_RANGE'));
      await assert.rejects(v.write(v.blockCount - 1, Buffer.alloc(2 * bs), false), code('OUT_OF_RANGE'));
      await assert.rejects(v.write(0, Buffer.alloc(bs + 1), false), code('OUT_OF_RANGE'));
      await assert.rejects(v.read(-1, 1), code('OUT_OF_RANGE'));
      await assert.rejects(v.read(0.5, 1), code('OUT_OF_RANGE'));
      assert.equal((await v.read(5, 0)).length, 0);
      await v.flush();
      if (thin) assert.deepEqual(await v.mapStatus(4 * perExtent, 100), { mapped: false, count: 100 });
      assert.deepEqual(await v.mapStatus(0, v.blockCount), thin ? { mapped: true, count: 4 * perExtent } : { mapped: true, count: v.blockCount });
    });
  }
}

test('a 64 TiB thin volume in a small pool costs nothing until written', async (t) => {
  const pool = await withPool(t);
  const size = 64 * 1024 ** 4;
  await pool.createVolume({ name: 'big', sizeBytes: size, blockSize: 4096 });
  const v = pool.openVolume('big');
  const last = size / 4096 - 1;
  await v.write(last, pattern(4096, 1), false);
  await v.write(0, pattern(4096, 2), false);
  assert.deepEqual(await v.read(last, 1), pattern(4096, 1));
  assert.deepEqual(await v.read(last - 1000, 1), Buffer.alloc(4096));
  assert.equal(pool.info().usedBytes, 2 * ES);
  assert.equal(pool.info().thinProvisionedBytes, size);
  const perExtent = ES / 4096;
  assert.deepEqual(await v.mapStatus(0, 1000), { mapped: true, count: perExtent });
  const gap = await v.mapStatus(perExtent, last - perExtent + 1);
  assert.equal(gap.mapped, false);
  assert.ok(gap.count >= perExtent && gap.count <= last - perExtent);
  await v.unmap(0, v.blockCount);
  assert.equal(pool.info().usedBytes, 0);
  assert.deepEqual(await v.read(last, 1), Buffer.alloc(4096));
});

test('unmap: whole extents free space and read zero; partial ranges are zeroed in place', async (t) => {
  const pool = await withPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB });
  const v = pool.openVolume('v');
  const per = ES / 512;
  await v.write(0, pattern(4 * ES, 5), false);
  assert.equal(pool.info().usedBytes, 4 * ES);
  await v.unmap(per, per); // exactly extent 1
  assert.equal(pool.info().usedBytes, 3 * ES);
  assert.deepEqual(await v.read(per, per), Buffer.alloc(ES));
  assert.deepEqual(await v.mapStatus(per, 3 * per), { mapped: false, count: per });
  await v.unmap(2 * per + 10, 20); // inside extent 2: zeroed, still allocated
  assert.equal(pool.info().usedBytes, 3 * ES);
  const e2 = await v.read(2 * per, per);
  assert.deepEqual(e2.subarray(10 * 512, 30 * 512), Buffer.alloc(20 * 512));
  assert.deepEqual(e2.subarray(0, 10 * 512), pattern(4 * ES, 5).subarray(0, 10 * 512));
  await v.unmap(per / 2, 3 * per); // half of 0, all of 1..2, half of 3
  assert.equal(pool.info().usedBytes, 2 * ES);
  assert.deepEqual(await v.read(per / 2, 3 * per), Buffer.alloc(3 * ES));
  await v.write(per, pattern(512, 6), false); // reallocates
  assert.deepEqual(await v.read(per, 1), pattern(512, 6));
  assert.deepEqual(await v.read(per + 1, per - 1), Buffer.alloc(ES - 512));
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
});

test('delete erases: a new volume never sees a deleted one\'s data', async (t) => {
  const pool = await withPool(t, 16 * MiB);
  const cap = pool.info().capacityBytes;
  await pool.createVolume({ name: 'old', sizeBytes: cap });
  const old = pool.openVolume('old');
  for (let lba = 0; lba < cap / 512; lba += ES / 512) await old.write(lba, pattern(ES, 0x77), false);
  assert.equal(pool.info().freeBytes, 0);
  await pool.deleteVolume('old');
  await assert.rejects(old.read(0, 1), code('DEVICE_GONE'));
  await assert.rejects(old.write(0, Buffer.alloc(512), false), code('DEVICE_GONE'));
  assert.equal(pool.info().usedBytes, 0);
  await pool.createVolume({ name: 'old', sizeBytes: cap, thin: false });
  assert.deepEqual(await pool.openVolume('old').read(0, cap / 512), Buffer.alloc(cap));
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
});

test('thin pool out of space: NoSpaceError, others unaffected, recovers after unmap', async (t) => {
  const pool = await withPool(t, 16 * MiB);
  const cap = pool.info().capacityBytes;
  await pool.createVolume({ name: 'a', sizeBytes: 64 * MiB });
  await pool.createVolume({ name: 'b', sizeBytes: 64 * MiB });
  const a = pool.openVolume('a');
  const b = pool.openVolume('b');
  await b.write(0, pattern(512, 1), false);
  const results = await Promise.allSettled(Array.from({ length: cap / ES + 5 }, (_, i) => a.write(i * (ES / 512), pattern(512, i + 10), false)));
  const failed = results.filter((r) => r.status === 'rejected');
  assert.equal(failed.length, 6);
  for (const f of failed) assert.equal(errorCode((f as PromiseRejectedResult).reason), 'NO_SPACE');
  assert.equal(pool.info().freeBytes, 0);
  await b.write(1, pattern(512, 2), false); // b's extent is mapped: still writable
  assert.deepEqual(await b.read(0, 2), Buffer.concat([pattern(512, 1), pattern(512, 2)]));
  await assert.rejects(b.write(ES / 512, pattern(512, 3), false), code('NO_SPACE'));
  await a.unmap(0, 2 * ES / 512);
  await b.write(ES / 512, pattern(512, 3), false);
  assert.deepEqual(await b.read(ES / 512, 1), pattern(512, 3));
  assert.deepEqual((await pool.verify()).problems, []);
});

test('concurrent first writes to one extent allocate it once', async (t) => {
  const pool = await withPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB });
  const v = pool.openVolume('v');
  const per = ES / 512;
  await Promise.all(Array.from({ length: 64 }, (_, i) => v.write(i * 2, pattern(1024, i + 1), false)));
  assert.equal(pool.volumeInfo('v').allocatedBytes, ES);
  for (let i = 0; i < 64; i++) assert.deepEqual(await v.read(i * 2, 2), pattern(1024, i + 1));
  // And writes that straddle two new extents at once.
  await Promise.all(Array.from({ length: 16 }, (_, i) => v.write(2 * per - 1 + (i % 2), pattern(1024, 100 + i), false)));
  assert.equal(pool.volumeInfo('v').allocatedBytes, 3 * ES);
  assert.deepEqual((await pool.verify()).problems, []);
});

test('unmaps racing writes keep metadata consistent and free extents zeroed', async (t) => {
  const pool = await withPool(t, 16 * MiB);
  await pool.createVolume({ name: 'v', sizeBytes: 2 * MiB });
  await pool.createVolume({ name: 'w', sizeBytes: 2 * MiB });
  const v = pool.openVolume('v');
  const w = pool.openVolume('w');
  const per = ES / 512;
  let seed = 12345;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const ops: Promise<void>[] = [];
  for (let i = 0; i < 400; i++) {
    const dev = rnd(2) === 0 ? v : w;
    const e = rnd(32);
    if (rnd(4) === 0) ops.push(dev.unmap(e * per, per * (1 + rnd(2))).catch((err) => { if (errorCode(err) !== 'OUT_OF_RANGE') throw err; }));
    else ops.push(dev.write(e * per + rnd(per - 8), pattern(4096, i + 1), false));
  }
  await Promise.all(ops);
  const report = await pool.verify({ checkFreeZeroed: true });
  assert.deepEqual(report.problems, []);
  assert.equal(pool.info().usedBytes, report.allocatedBytes);
});

test('readInto fills the caller\'s buffer across extents, zeros unwritten blocks, checks its length', async (t) => {
  const pool = await withPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB, blockSize: 512, thin: true });
  const v = pool.openVolume('v');
  assert.equal(v.releasesWriteBuffers, true);
  const data = pattern(2 * ES, 7);
  await v.write(ES / 512 - 3, data, false);
  const dest = Buffer.alloc(3 * ES, 0xff);
  await v.readInto(0, dest.length / 512, dest);
  assert.ok(dest.equals(Buffer.concat([Buffer.alloc(ES - 1536), data, Buffer.alloc(1536)])));
  const one = Buffer.alloc(512, 0xff);
  await v.readInto(v.blockCount - 1, 1, one);
  assert.deepEqual(one, Buffer.alloc(512));
  await assert.rejects(v.readInto(0, 2, Buffer.alloc(512)), code('OUT_OF_RANGE'));
  await assert.rejects(v.readInto(v.blockCount, 1, Buffer.alloc(512)), code('OUT_OF_RANGE'));
});

test('a write that fails in one extent settles only after its other pwrites have finished', async (t) => {
  const pool = await withPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB, blockSize: 512, thin: true });
  const v = pool.openVolume('v');
  await v.write(0, pattern(ES, 1), false); // extent 0 mapped; extent 1 is not
  const inner = v as unknown as { host: { file: { writeFrom: (...a: unknown[]) => void }; acquireExtent: () => Promise<number> } };
  const file = inner.host.file;
  const realWrite = file.writeFrom.bind(file);
  let inFlight = 0;
  file.writeFrom = (...a: unknown[]) => {
    inFlight++;
    const done = a[4] as (err: null) => void;
    // Slow pwrite: it must still be running when the other extent's allocation fails.
    setTimeout(() => realWrite(a[0], a[1], a[2], a[3], (err: null) => { inFlight--; done(err); }), 30);
  };
  const realAcquire = inner.host.acquireExtent;
  inner.host.acquireExtent = () => Promise.reject(Object.assign(new Error('no space'), { code: 'NO_SPACE' }));
  t.after(() => { inner.host.acquireExtent = realAcquire; file.writeFrom = realWrite; });
  let inFlightAtRejection = -1;
  await assert.rejects(v.write(0, pattern(2 * ES, 2), false).catch((err: unknown) => { inFlightAtRejection = inFlight; throw err; }));
  assert.equal(inFlightAtRejection, 0);
});
