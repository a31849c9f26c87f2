import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from './pool.ts';
import { errorCode } from '../util/errors.ts';
import { encodeSuperblock, decodeSuperblock } from './pool_superblock.ts';
import { KiB, MiB, pattern, tempDir } from './pool_test_util.ts';
import { POOL_FORMAT_VERSION } from './pool_layout.ts';

const code = (c: string) => (e: unknown) => errorCode(e) === c;
const ES = 64 * KiB;
/** Buffer equality without deepEqual's diff, which is very slow on large buffers. */
const same = (got: Buffer, want: Buffer, msg?: string): void => assert.ok(got.equals(want), msg ?? 'data differs');

async function freshPool(t: { after: (fn: () => void) => void }, sizeBytes = 64 * MiB): Promise<{ pool: Pool; file: string }> {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  return { pool: await Pool.create(file, { name: 'tank', sizeBytes, extentSize: ES }), file };
}

test('a snapshot keeps the data of its moment while the volume changes', async (t) => {
  const { pool } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB });
  const v = pool.openVolume('v');
  await v.write(0, pattern(8 * KiB, 1), false);
  await v.write(200, pattern(ES, 2), false); // straddles extents 1 and 2
  const s = await pool.createSnapshot('v', 's1');
  assert.equal(s.state, 'ready');
  assert.equal(s.sourceVolume, 'v');
  assert.equal(s.sizeBytes, 4 * MiB);
  assert.equal(s.allocatedBytes, 3 * ES);
  await v.write(0, pattern(8 * KiB, 9), false);
  await v.write(200, pattern(ES, 8), false);
  await v.write(4096, pattern(4 * KiB, 7), false); // a fresh extent after the snapshot
  await v.unmap(0, 128); // whole extent 0 back to the pool: must not touch the snapshot's copy
  await pool.createVolumeFromSnapshot({ name: 'c1', snapshot: 's1' });
  const c = pool.openVolume('c1');
  same(await c.read(0, 16), pattern(8 * KiB, 1));
  same(await c.read(200, 128), pattern(ES, 2));
  same(await c.read(4096, 8), Buffer.alloc(4 * KiB));
  assert.equal((await v.read(0, 16)).equals(Buffer.alloc(8 * KiB)), true);
  same(await v.read(4096, 8), pattern(4 * KiB, 7));
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
  await pool.close();
});

test('writes racing a snapshot land whole on one side of it, never torn across the copy', async (t) => {
  const { pool } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 8 * MiB, thin: false });
  const v = pool.openVolume('v');
  for (let lba = 0; lba < 16384; lba += 1024) await v.write(lba, pattern(512 * KiB, 3), false);
  const snap = pool.createSnapshot('v', 's');
  const writes: Promise<void>[] = [];
  // Let the snapshot start and hold writes first: these then wait for the copy.
  await new Promise((r) => setImmediate(r));
  for (let lba = 0; lba < 16384; lba += 1024) writes.push(v.write(lba, pattern(512 * KiB, 4), false));
  await Promise.all([snap, ...writes]);
  await pool.createVolumeFromSnapshot({ name: 'c', snapshot: 's', thin: false });
  const c = pool.openVolume('c');
  let old = 0;
  for (let lba = 0; lba < 16384; lba += 1024) {
    const got = await c.read(lba, 1024);
    const isOld = got.equals(pattern(512 * KiB, 3));
    assert.ok(isOld || got.equals(pattern(512 * KiB, 4)), `clone at ${lba} holds a torn write`);
    if (isOld) old++;
    same(await v.read(lba, 1024), pattern(512 * KiB, 4), `volume at ${lba}`);
  }
  assert.equal(old, 16, 'writes issued while the snapshot held the volume went after it');
  assert.equal(pool.volumeInfo('c').allocatedBytes, 8 * MiB);
  await pool.close();
});

test('clones: from a snapshot (larger, thin or thick) and straight from a volume', async (t) => {
  const { pool } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 2 * MiB, blockSize: 4096 });
  const v = pool.openVolume('v');
  await v.write(3, pattern(4096, 5), false);
  await pool.createSnapshot('v', 's');
  const big = await pool.createVolumeFromSnapshot({ name: 'big', snapshot: 's', sizeBytes: 4 * MiB, thin: false });
  assert.equal(big.sizeBytes, 4 * MiB);
  assert.equal(big.blockSize, 4096);
  assert.equal(big.allocatedBytes, 4 * MiB);
  same(await pool.openVolume('big').read(3, 1), pattern(4096, 5));
  same(await pool.openVolume('big').read(1000, 1), Buffer.alloc(4096));
  await assert.rejects(pool.createVolumeFromSnapshot({ name: 'small', snapshot: 's', sizeBytes: MiB }), code('INVALID_SIZE'));
  await assert.rejects(pool.createVolumeFromSnapshot({ name: 'x', snapshot: 'nope' }), code('SNAPSHOT_NOT_FOUND'));
  await assert.rejects(pool.createVolumeFromSnapshot({ name: 'v', snapshot: 's' }), code('VOLUME_EXISTS'));
  await v.write(3, pattern(4096, 6), false);
  const cl = await pool.cloneVolume({ name: 'copy', source: 'v' });
  assert.equal(cl.thin, true);
  assert.equal(cl.allocatedBytes, ES);
  same(await pool.openVolume('copy').read(3, 1), pattern(4096, 6));
  await assert.rejects(pool.cloneVolume({ name: 'y', source: 'nope' }), code('VOLUME_NOT_FOUND'));
  await pool.close();
});

test('a snapshot of a full volume takes no space; copy-ups take it, and a full pool refuses them with NO_SPACE', async (t) => {
  const { pool } = await freshPool(t, 8 * MiB);
  await pool.createVolume({ name: 'v', sizeBytes: 6 * MiB, thin: false });
  const v = pool.openVolume('v');
  await v.write(0, pattern(6 * MiB, 4), false);
  const used = pool.info().usedBytes;
  const s1 = await pool.createSnapshot('v', 's1');
  assert.equal(pool.info().usedBytes, used, 'the snapshot shares every extent');
  assert.equal(s1.exclusiveBytes, 0);
  await pool.createSnapshot('v', 's2');
  await pool.cloneVolume({ name: 'c', source: 'v' });
  await pool.createVolumeFromSnapshot({ name: 'd', snapshot: 's1' });
  assert.equal(pool.info().usedBytes, used);
  // Overwrite until the pool cannot take another copy-up extent.
  const free = pool.info().freeBytes / ES;
  const results = await Promise.allSettled(Array.from({ length: free + 3 }, (_, i) => v.write(i * (ES / 512), pattern(4096, 9), false)));
  assert.equal(results.filter((r) => r.status === 'rejected' && errorCode(r.reason) === 'NO_SPACE').length, 3);
  for (const name of ['c', 'd']) same(await pool.openVolume(name).read(0, 6 * MiB / 512), pattern(6 * MiB, 4), name);
  assert.deepEqual((await pool.verify()).problems, []);
  await pool.close();
});

test('space: per snapshot, the bytes only it holds; deletes in any order give back exactly what nobody references', async (t) => {
  const { pool } = await freshPool(t, 16 * MiB);
  const free0 = pool.info().freeBytes;
  await pool.createVolume({ name: 'v', sizeBytes: 4 * MiB, thin: false });
  const v = pool.openVolume('v');
  await v.write(0, pattern(4 * MiB, 1), false);
  assert.equal(pool.info().usedBytes, 4 * MiB);
  await pool.createSnapshot('v', 's1');
  assert.equal(pool.snapshotInfo('s1').exclusiveBytes, 0);
  // Overwrite 2 whole extents, and one 4 KiB grain of a third.
  await v.write(0, pattern(2 * ES, 2), false);
  await v.write(2 * ES / 512, pattern(4096, 3), false);
  await v.flush();
  assert.equal(pool.snapshotInfo('s1').exclusiveBytes, 2 * ES + 4096, 'two extents and one grain');
  assert.equal(pool.info().usedBytes, 4 * MiB + 3 * ES);
  await assert.rejects(pool.createSnapshot('v', 's1'), code('SNAPSHOT_EXISTS'));
  await assert.rejects(pool.createSnapshot('nope', 's3'), code('VOLUME_NOT_FOUND'));
  await assert.rejects(pool.createSnapshot('v', 'bad name'), code('INVALID_NAME'));
  await pool.deleteVolume('v');
  assert.equal(pool.snapshotInfo('s1').exclusiveBytes, 4 * MiB, 'the volume gone, the snapshot holds all it maps');
  assert.equal(pool.info().usedBytes, 4 * MiB);
  await pool.deleteSnapshot('s1');
  await assert.rejects(pool.deleteSnapshot('s1'), code('SNAPSHOT_NOT_FOUND'));
  assert.equal(pool.info().freeBytes, free0);
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
  await pool.close();
});

test('deleting a volume keeps its snapshots; they survive import and still clone', async (t) => {
  const { pool, file } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 2 * MiB });
  await pool.openVolume('v').write(10, pattern(4096, 11), false);
  await pool.createSnapshot('v', 'keep');
  await pool.createSnapshot('v', 'gone');
  assert.deepEqual(pool.listSnapshots('v').map((s) => s.name).sort(), ['gone', 'keep']);
  await pool.deleteSnapshot('gone');
  await pool.deleteVolume('v');
  assert.equal(pool.snapshotInfo('keep').sourceVolume, null);
  await assert.rejects(async () => pool.listSnapshots('v'), code('VOLUME_NOT_FOUND'));
  await pool.close();

  const again = await Pool.import(file);
  const s = again.snapshotInfo('keep');
  assert.equal(s.state, 'ready');
  assert.equal(s.allocatedBytes, ES);
  await again.createVolumeFromSnapshot({ name: 'back', snapshot: 'keep' });
  same(await again.openVolume('back').read(10, 8), pattern(4096, 11));
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
  await again.close();
});

test('snapshots come back from the journal alone (import without close)', async (t) => {
  const { pool, file } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 2 * MiB });
  await pool.openVolume('v').write(0, pattern(4096, 21), false);
  await pool.createSnapshot('v', 's');
  await pool.openVolume('v').write(0, pattern(4096, 22), true);
  // No close: the snapshot's records are only in the journal, as after kill -9.
  await pool.abandon();
  const again = await Pool.import(file);
  assert.equal(again.snapshotInfo('s').state, 'ready');
  await again.createVolumeFromSnapshot({ name: 'c', snapshot: 's' });
  same(await again.openVolume('c').read(0, 8), pattern(4096, 21));
  same(await again.openVolume('v').read(0, 8), pattern(4096, 22));
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
  await again.close();
});

test('a format 1 pool (no owner record either) imports and is upgraded to the current format', async (t) => {
  const { pool, file } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: MiB });
  await pool.openVolume('v').write(0, pattern(512, 1), false);
  await pool.close();
  const fd = fs.openSync(file, 'r+');
  const buf = Buffer.alloc(4096);
  fs.readSync(fd, buf, 0, 4096, 0);
  const v1 = encodeSuperblock({ ...decodeSuperblock(buf), formatVersion: 1 });
  fs.writeSync(fd, v1, 0, 4096, 0);
  fs.writeSync(fd, v1, 0, 4096, 4096);
  fs.closeSync(fd);
  const again = await Pool.import(file);
  assert.equal(again.info().formatVersion, POOL_FORMAT_VERSION);
  same(await again.openVolume('v').read(0, 1), pattern(512, 1));
  await again.createSnapshot('v', 's');
  await again.close();
  const third = await Pool.import(file);
  assert.equal(third.info().formatVersion, POOL_FORMAT_VERSION);
  assert.equal(third.listSnapshots().length, 1);
  await third.close();
});

test('a clone and a create racing for one name: one wins, the other gets VOLUME_EXISTS', async (t) => {
  const { pool } = await freshPool(t);
  await pool.createVolume({ name: 'v', sizeBytes: 2 * MiB, thin: false });
  await pool.createSnapshot('v', 's');
  const results = await Promise.allSettled([
    pool.createVolumeFromSnapshot({ name: 'x', snapshot: 's' }),
    pool.createVolume({ name: 'x', sizeBytes: MiB }),
  ]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const failed = results.find((r) => r.status === 'rejected');
  assert.equal(errorCode(failed?.reason), 'VOLUME_EXISTS');
  assert.deepEqual((await pool.verify()).problems, []);
  await assert.rejects(pool.destroy(), code('POOL_NOT_EMPTY'));
  await pool.deleteVolume('x');
  await pool.deleteVolume('v');
  await assert.rejects(pool.destroy(), code('POOL_NOT_EMPTY'), 'the snapshot still holds data');
  await pool.deleteSnapshot('s');
  await pool.destroy();
});
