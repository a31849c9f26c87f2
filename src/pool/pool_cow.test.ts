import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Pool } from './pool.ts';
import { errorCode } from '../util/errors.ts';
import { KiB, MiB, pattern, tempDir } from './pool_test_util.ts';
import type { PoolModel } from './pool_model.ts';

const ES = 64 * KiB;
const BPE = ES / 512;
const code = (c: string) => (e: unknown) => errorCode(e) === c;
const same = (got: Buffer, want: Buffer, msg?: string): void => assert.ok(got.equals(want), msg ?? 'data differs');

async function freshPool(t: { after: (fn: () => void) => void }, sizeBytes = 32 * MiB): Promise<{ pool: Pool; file: string }> {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  return { pool: await Pool.create(file, { name: 'tank', sizeBytes, extentSize: ES }), file };
}

/** What a volume should read: a byte image kept beside it. */
function image(size: number): { buf: Buffer; put: (lba: number, data: Buffer) => void } {
  const buf = Buffer.alloc(size);
  return { buf, put: (lba, data) => { data.copy(buf, lba * 512); } };
}

test('small writes into shared extents merge with the base grain; chains of partial extents read right after import', async (t) => {
  const { pool, file } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 4 * ES });
  const v = pool.openVolume('v');
  const want = image(4 * ES);
  const w = async (lba: number, data: Buffer): Promise<void> => { await v.write(lba, data, false); want.put(lba, data); };
  await w(0, pattern(4 * ES, 1));
  await pool.createSnapshot('v', 's1');
  const s1 = Buffer.from(want.buf);
  await w(1, pattern(512, 2)); // one sector inside grain 0 of extent 0
  await w(BPE + 7, pattern(3 * 512, 3)); // straddles grains 0 and 1 of extent 1
  await w(2 * BPE - 1, pattern(1024, 4)); // straddles extents 1 and 2
  await Promise.all([w(3 * BPE + 1, pattern(512, 5)), w(3 * BPE + 2, pattern(512, 6))]); // two writes, one grain
  same(await v.read(0, 4 * BPE), want.buf, 'volume after copy-ups');
  await v.flush();
  // A snapshot of partial extents, then writes over them: partial extents based on partial extents.
  await pool.createSnapshot('v', 's2');
  const s2 = Buffer.from(want.buf);
  await w(3, pattern(512, 7));
  await w(BPE + 8, pattern(4096, 8));
  await v.flush();
  await pool.createVolumeFromSnapshot({ name: 'c1', snapshot: 's1' });
  await pool.createVolumeFromSnapshot({ name: 'c2', snapshot: 's2' });
  same(await pool.openVolume('c1').read(0, 4 * BPE), s1, 'clone of s1');
  same(await pool.openVolume('c2').read(0, 4 * BPE), s2, 'clone of s2');
  same(await v.read(0, 4 * BPE), want.buf, 'volume');
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
  await pool.close();
  const again = await Pool.import(file);
  t.after(() => again.close());
  same(await again.openVolume('v').read(0, 4 * BPE), want.buf, 'volume after import');
  same(await again.openVolume('c1').read(0, 4 * BPE), s1, 'clone of s1 after import');
  same(await again.openVolume('c2').read(0, 4 * BPE), s2, 'clone of s2 after import');
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
});

test('kill -9 (abandon): flushed copy-up writes survive, unflushed grains read the snapshot\'s data, never zeros', async (t) => {
  const { pool, file } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 2 * ES });
  const v = pool.openVolume('v');
  await v.write(0, pattern(2 * ES, 1), false);
  await pool.createSnapshot('v', 's');
  await v.write(0, pattern(4096, 2), false);
  await v.flush();
  await v.write(8, pattern(4096, 3), false); // acknowledged, never flushed
  await v.write(BPE, pattern(4096, 4), true); // FUA
  await pool.abandon();
  const again = await Pool.import(file);
  t.after(() => again.close());
  const got = await again.openVolume('v').read(0, 2 * BPE);
  same(got.subarray(0, 4096), pattern(4096, 2), 'flushed');
  const third = got.subarray(4096, 8192);
  assert.ok(third.equals(pattern(4096, 3)) || third.equals(pattern(2 * ES, 1).subarray(4096, 8192)), 'unflushed: new or old, nothing else');
  same(got.subarray(ES, ES + 4096), pattern(4096, 4), 'FUA');
  same(got.subarray(8192, ES), pattern(2 * ES, 1).subarray(8192, ES), 'untouched grains read the base');
  await again.createVolumeFromSnapshot({ name: 'c', snapshot: 's' });
  same(await again.openVolume('c').read(0, 2 * BPE), pattern(2 * ES, 1), 'the snapshot');
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
});

for (const order of [['v', 's', 'c'], ['s', 'v', 'c'], ['c', 's', 'v'], ['s', 'c', 'v']]) {
  test(`deleting volume, snapshot and clone in the order ${order.join(', ')} frees exactly what nobody references`, async (t) => {
    const { pool } = await freshPool(t);
    const free0 = pool.info().freeBytes;
    await pool.createVolume({ name: 'v', sizeBytes: 8 * ES });
    const v = pool.openVolume('v');
    await v.write(0, pattern(8 * ES, 1), false);
    await pool.createSnapshot('v', 's');
    await pool.createVolumeFromSnapshot({ name: 'c', snapshot: 's', sizeBytes: 10 * ES });
    const c = pool.openVolume('c');
    await v.write(0, pattern(2 * ES, 2), false);
    await v.write(3 * BPE + 1, pattern(512, 3), false);
    await c.write(2 * BPE, pattern(ES, 4), false);
    await c.write(9 * BPE, pattern(512, 5), false);
    await c.unmap(5 * BPE, BPE); // a whole shared extent: only a reference goes
    await v.unmap(6 * BPE + 1, 2); // part of a shared extent: zeros through copy-up
    await Promise.all([v.flush(), c.flush()]);
    const expectV = pattern(8 * ES, 1);
    pattern(2 * ES, 2).copy(expectV, 0);
    pattern(512, 3).copy(expectV, 3 * ES + 512);
    expectV.fill(0, 6 * ES + 512, 6 * ES + 1536);
    same(await v.read(0, 8 * BPE), expectV, 'volume');
    for (const name of order) {
      if (name === 's') await pool.deleteSnapshot('s');
      else await pool.deleteVolume(name);
      assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, [], `after deleting ${name}`);
      if (name !== 'v' && pool.listVolumes().some((x) => x.name === 'v')) same(await v.read(0, 8 * BPE), expectV, `volume after deleting ${name}`);
    }
    assert.equal(pool.info().freeBytes, free0);
    assert.equal(pool.info().usedBytes, 0);
    await pool.close();
  });
}

test('changed blocks: allocated ranges and the delta between two snapshots, to the grain', async (t) => {
  const { pool } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 8 * ES });
  const v = pool.openVolume('v');
  await v.write(0, pattern(2 * ES, 1), false);
  await v.write(4 * BPE, pattern(ES, 1), false);
  await pool.createSnapshot('v', 'a');
  assert.deepEqual(pool.snapshotAllocated('a'), [{ offset: 0, length: 2 * ES }, { offset: 4 * ES, length: ES }]);
  await pool.createSnapshot('v', 'same');
  assert.deepEqual(pool.snapshotDelta('a', 'same'), []);
  await v.write(1, pattern(512, 2), false); // grain 0 of extent 0
  await v.write(BPE + 16, pattern(8192, 3), false); // grains 2 and 3 of extent 1
  await v.write(6 * BPE, pattern(512, 4), false); // a new extent
  await v.unmap(4 * BPE, BPE); // a whole extent gone
  await v.flush();
  await pool.createSnapshot('v', 'b');
  assert.deepEqual(pool.snapshotDelta('a', 'b'), [
    { offset: 0, length: 4096 }, { offset: ES + 8192, length: 8192 }, { offset: 4 * ES, length: ES }, { offset: 6 * ES, length: ES },
  ]);
  assert.deepEqual(pool.snapshotAllocated('b'), [{ offset: 0, length: 2 * ES }, { offset: 6 * ES, length: ES }]);
  assert.throws(() => pool.snapshotDelta('a', 'nope'), code('SNAPSHOT_NOT_FOUND'));
  assert.throws(() => pool.snapshotAllocated('nope'), code('SNAPSHOT_NOT_FOUND'));
  await pool.close();
});

test('verify finds a reference count that does not match the references', async (t) => {
  const { pool } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 2 * ES });
  await pool.openVolume('v').write(0, pattern(ES, 1), false);
  await pool.createSnapshot('v', 's');
  assert.deepEqual((await pool.verify()).problems, []);
  const model = (pool as unknown as { model: PoolModel }).model;
  const p = model.volumes.values().next().value!.map.get(0);
  model.refs[p]--;
  assert.match((await pool.verify()).problems.join('\n'), new RegExp(`extent ${p} has reference count 1, but 2 references exist`));
  model.refs[p]++;
  await pool.close();
});

test('deleting a snapshot frees the extents its volume overwrote in part: copy-ups take the grains they lack', async (t) => {
  const { pool } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 8 * ES });
  const v = pool.openVolume('v');
  await v.write(0, pattern(8 * ES, 1), false);
  await v.flush();
  const used = pool.info().usedBytes;
  await pool.createSnapshot('v', 's');
  for (let l = 0; l < 8; l++) await v.write(l * BPE + 3, pattern(512, 2), false); // one sector per extent
  assert.equal(pool.info().usedBytes, used + 8 * ES, 'eight partial extents beside the shared ones');
  await pool.deleteSnapshot('s');
  assert.equal(pool.info().usedBytes, used, 'the old extents are freed, not held for the grains not rewritten');
  const want = pattern(8 * ES, 1);
  for (let l = 0; l < 8; l++) pattern(512, 2).copy(want, l * ES + 3 * 512);
  same(await v.read(0, 8 * BPE), want);
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
  await pool.close();
});

test('a clean close keeps first writes to shared grains that were never flushed', async (t) => {
  const { pool, file } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 2 * ES });
  const v = pool.openVolume('v');
  await v.write(0, pattern(2 * ES, 1), false);
  await pool.createSnapshot('v', 's');
  await v.write(9, pattern(512, 2), false); // copy-up, grain bits only in memory
  await pool.close();
  const again = await Pool.import(file);
  t.after(() => again.close());
  const want = pattern(2 * ES, 1);
  pattern(512, 2).copy(want, 9 * 512);
  same(await again.openVolume('v').read(0, 2 * BPE), want);
});
