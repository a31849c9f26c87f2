import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from './pool.ts';
import { errorCode } from '../util/errors.ts';
import { KiB, MiB, pattern, tempDir } from './pool_test_util.ts';
import { POOL_FORMAT_VERSION } from './pool_layout.ts';

const code = (c: string) => (e: unknown) => errorCode(e) === c;

test('create, write, close, import: volumes and data come back', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'tank', sizeBytes: 64 * MiB, extentSize: 64 * KiB });
  const info = pool.info();
  assert.equal(info.name, 'tank');
  assert.equal(info.formatVersion, POOL_FORMAT_VERSION);
  assert.equal(info.usedBytes, 0);
  assert.equal(info.freeBytes, info.capacityBytes);
  await pool.createVolume({ name: 'a', sizeBytes: 10 * MiB });
  await pool.createVolume({ name: 'b', sizeBytes: 2 * MiB, blockSize: 4096, thin: false });
  const a = pool.openVolume('a');
  assert.equal(pool.openVolume('a'), a, 'same object while open');
  await a.write(1000, pattern(8192, 7), false);
  await pool.openVolume('b').write(3, pattern(4096, 9), true);
  assert.deepEqual(pool.info().thinProvisionedBytes, 12 * MiB);
  await pool.close();
  await assert.rejects(a.read(0, 1), code('DEVICE_GONE'));

  const again = await Pool.import(file);
  assert.equal(again.info().uuid, info.uuid);
  assert.deepEqual(again.listVolumes().map((v) => [v.name, v.thin, v.blockSize, v.state]), [['a', true, 512, 'online'], ['b', false, 4096, 'online']]);
  assert.deepEqual(await again.openVolume('a').read(1000, 16), pattern(8192, 7));
  assert.deepEqual(await again.openVolume('b').read(3, 1), pattern(4096, 9));
  assert.equal(again.volumeInfo('b').allocatedBytes, 2 * MiB);
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
  await again.close();
});

test('create and import refuse what is not theirs', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  await assert.rejects(Pool.import(file), code('POOL_NOT_FOUND'));
  fs.writeFileSync(path.join(dir, 'junk'), Buffer.alloc(1 * MiB, 1));
  await assert.rejects(Pool.import(path.join(dir, 'junk')), code('POOL_NOT_FOUND'));
  await assert.rejects(Pool.create(file, { name: 'bad name', sizeBytes: 64 * MiB }), code('INVALID_NAME'));
  await assert.rejects(Pool.create(file, { name: 'x', sizeBytes: 64 * MiB, extentSize: 3 * MiB }), code('INVALID_SIZE'));
  await assert.rejects(Pool.create(file, { name: 'x', sizeBytes: 1 * MiB }), code('INVALID_SIZE'));
  assert.equal(fs.existsSync(file), false, 'a failed create removes the file it made');
  const pool = await Pool.create(file, { name: 'x', sizeBytes: 64 * MiB });
  await assert.rejects(Pool.create(file, { name: 'y', sizeBytes: 64 * MiB }), code('POOL_EXISTS'));
  await pool.close();
});

test('volume validation: names, sizes, duplicates, missing', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const pool = await Pool.create(path.join(dir, 'p'), { name: 'x', sizeBytes: 64 * MiB });
  t.after(() => pool.close());
  for (const name of ['', 'a'.repeat(65), 'a/b', 'ä']) {
    await assert.rejects(pool.createVolume({ name, sizeBytes: MiB }), code('INVALID_NAME'));
  }
  for (const sizeBytes of [0, -512, 1000, 2 ** 51, 1.5]) {
    await assert.rejects(pool.createVolume({ name: 'v', sizeBytes }), code('INVALID_SIZE'));
  }
  await assert.rejects(pool.createVolume({ name: 'v', sizeBytes: 512, blockSize: 4096 }), code('INVALID_SIZE'));
  await pool.createVolume({ name: 'v', sizeBytes: 512 });
  await assert.rejects(pool.createVolume({ name: 'v', sizeBytes: MiB }), code('VOLUME_EXISTS'));
  assert.throws(() => pool.volumeInfo('nope'), code('VOLUME_NOT_FOUND'));
  assert.throws(() => pool.openVolume('nope'), code('VOLUME_NOT_FOUND'));
  await assert.rejects(pool.deleteVolume('nope'), code('VOLUME_NOT_FOUND'));
});

test('thick volumes allocate at create and fail whole when the pool lacks room', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const pool = await Pool.create(path.join(dir, 'p'), { name: 'x', sizeBytes: 32 * MiB, extentSize: 64 * KiB });
  t.after(() => pool.close());
  const cap = pool.info().capacityBytes;
  await pool.createVolume({ name: 'thin', sizeBytes: 1 * MiB });
  await pool.openVolume('thin').write(0, pattern(4096, 1), false); // primes the thin reserve
  await pool.createVolume({ name: 'thick', sizeBytes: 10 * MiB, thin: false });
  assert.equal(pool.info().usedBytes, 10 * MiB + 64 * KiB);
  await assert.rejects(pool.createVolume({ name: 'huge', sizeBytes: cap, thin: false }), code('NO_SPACE'));
  assert.throws(() => pool.volumeInfo('huge'), code('VOLUME_NOT_FOUND'));
  assert.equal(pool.info().usedBytes, 10 * MiB + 64 * KiB, 'failed create leaves nothing behind');
  // The reserve is given back when a thick volume needs it.
  await pool.createVolume({ name: 'rest', sizeBytes: cap - 11 * MiB, thin: false });
  assert.equal(pool.info().freeBytes, 15 * 64 * KiB);
  assert.deepEqual((await pool.verify()).problems, []);
});

test('resize grows online, refuses shrink, and persists', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'x', sizeBytes: 64 * MiB, extentSize: 64 * KiB });
  await pool.createVolume({ name: 'thin', sizeBytes: 1 * MiB });
  await pool.createVolume({ name: 'thick', sizeBytes: 100 * KiB, thin: false, blockSize: 4096 });
  const v = pool.openVolume('thin');
  await assert.rejects(v.write(2048, pattern(512, 1), false), code('OUT_OF_RANGE'));
  await pool.resizeVolume('thin', 2 * MiB);
  assert.equal(v.blockCount, 4096);
  await v.write(2048, pattern(512, 1), false);
  await assert.rejects(pool.resizeVolume('thin', 1 * MiB), code('SHRINK_NOT_SUPPORTED'));
  await assert.rejects(pool.resizeVolume('thin', 2 * MiB + 100), code('INVALID_SIZE'));
  const tv = pool.openVolume('thick');
  await pool.resizeVolume('thick', 1 * MiB);
  assert.equal(tv.blockCount, 256);
  assert.equal(pool.volumeInfo('thick').allocatedBytes, 1 * MiB);
  await tv.write(255, pattern(4096, 2), false);
  // Concurrent grows run one after the other: never a double mapping, never a shrink.
  const [r1, r2] = await Promise.allSettled([pool.resizeVolume('thick', 3 * MiB), pool.resizeVolume('thick', 2 * MiB)]);
  assert.equal(r1.status, 'fulfilled');
  assert.equal(r2.status === 'rejected' && errorCode(r2.reason), 'SHRINK_NOT_SUPPORTED');
  assert.equal(pool.volumeInfo('thick').allocatedBytes, 3 * MiB);
  assert.deepEqual((await pool.verify()).problems, []);
  await pool.close();
  const again = await Pool.import(file);
  assert.equal(again.volumeInfo('thin').sizeBytes, 2 * MiB);
  assert.deepEqual(await again.openVolume('thin').read(2048, 1), pattern(512, 1));
  assert.deepEqual(await again.openVolume('thick').read(255, 1), pattern(4096, 2));
  assert.equal(again.volumeInfo('thick').sizeBytes, 3 * MiB);
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
  await again.close();
});

test('import without close after journal rollovers replays every acknowledged write', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  // A 16 KiB journal (4 blocks) forces a checkpoint every few group commits.
  const pool = await Pool.create(file, { name: 'x', sizeBytes: 96 * MiB, extentSize: 64 * KiB, journalBytes: 16 * KiB });
  await pool.createVolume({ name: 'v', sizeBytes: 64 * MiB });
  const v = pool.openVolume('v');
  const extents = 64 * MiB / (64 * KiB);
  for (let i = 0; i < extents; i += 32) {
    await Promise.all(Array.from({ length: 32 }, (_, k) => v.write((i + k) * 128 + (k % 7), pattern(512, i + k + 1), false)));
  }
  await v.unmap(0, 128 * 10);
  // No close: the in-process pool is abandoned as if the process died here.
  await pool.abandon();
  const again = await Pool.import(file);
  const w = again.openVolume('v');
  for (let e = 0; e < extents; e++) {
    const got = await w.read(e * 128 + (e % 32 % 7), 1);
    assert.deepEqual(got, e < 10 ? Buffer.alloc(512) : pattern(512, e + 1), `extent ${e}`);
  }
  assert.equal(again.volumeInfo('v').allocatedBytes, (extents - 10) * 64 * KiB);
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
  await again.close();
});

test('corrupt superblocks and checkpoints are detected; backups are used', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'x', sizeBytes: 64 * MiB, extentSize: 64 * KiB });
  await pool.createVolume({ name: 'v', sizeBytes: 8 * MiB });
  await pool.openVolume('v').write(0, pattern(4096, 3), false);
  await pool.close();
  const poke = (at: number, bytes: Buffer): void => {
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, bytes, 0, bytes.length, at);
    fs.closeSync(fd);
  };
  const peek = (at: number, n: number): Buffer => {
    const fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(n);
    fs.readSync(fd, b, 0, n, at);
    fs.closeSync(fd);
    return b;
  };
  const sb = peek(0, 8192);
  poke(100, Buffer.from([0xff]));
  const p1 = await Pool.import(file); // primary bad, backup good
  await p1.close();
  poke(4096 + 100, Buffer.from([0xff]));
  await assert.rejects(Pool.import(file), code('POOL_CORRUPT'));
  poke(0, sb);
  const v2 = Buffer.from(sb.subarray(0, 4096));
  v2.writeUInt32LE(POOL_FORMAT_VERSION + 1, 8);
  poke(0, v2);
  poke(4096, v2);
  await assert.rejects(Pool.import(file), code('POOL_VERSION'));
  poke(0, sb);
  // Damage the newest checkpoint: the older slot plus its journal still describe the pool.
  const slotA = 8192;
  const slotB = slotA + sb.readUInt32LE(144);
  const gen = (at: number) => peek(at + 32, 4).readUInt32LE(0);
  const newest = gen(slotA) > gen(slotB) ? slotA : slotB;
  poke(newest + 70, Buffer.from([0x5a, 0x5a]));
  const p2 = await Pool.import(file);
  assert.deepEqual(await p2.openVolume('v').read(0, 8), pattern(4096, 3));
  await p2.close();
  poke(slotA + 70, Buffer.from([0xa5]));
  poke(slotB + 70, Buffer.from([0xa5]));
  await assert.rejects(Pool.import(file), code('POOL_CORRUPT'));
});

test('destroy refuses a pool with volumes, then wipes the pool', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'x', sizeBytes: 64 * MiB });
  await pool.createVolume({ name: 'v', sizeBytes: MiB });
  await assert.rejects(pool.destroy(), code('POOL_NOT_EMPTY'));
  await pool.deleteVolume('v');
  await pool.destroy();
  assert.ok(fs.existsSync(file), 'the file stays; the engine decides');
  await assert.rejects(Pool.import(file), code('POOL_NOT_FOUND'));
  // What destroy leaves is blank where create looks: a new pool needs no force.
  const again = await Pool.create(file, { name: 'y' });
  await again.close();
});

test('a pool destroyed after checkpoints of many volumes leaves a start create takes without force', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  let pool = await Pool.create(file, { name: 'x', sizeBytes: 64 * MiB });
  // 64 volume records (110 bytes each) reach well past the first 4 KiB of each checkpoint slot.
  for (let i = 0; i < 64; i++) await pool.createVolume({ name: `v${i}`, sizeBytes: MiB });
  await pool.close();
  pool = await Pool.import(file);
  for (let i = 0; i < 64; i++) await pool.deleteVolume(`v${i}`);
  await pool.destroy();
  const again = await Pool.create(file, { name: 'y' });
  await again.close();
});

test('a pool on a device with old contents zeroes extents before first use', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'dev');
  fs.writeFileSync(file, Buffer.alloc(48 * MiB, 0xee));
  await assert.rejects(Pool.create(file, { name: 'x', extentSize: 64 * KiB }), code('POOL_DEVICE_NOT_EMPTY'));
  const pool = await Pool.create(file, { name: 'x', extentSize: 64 * KiB, force: true });
  assert.equal(pool.info().capacityBytes > 40 * MiB, true);
  await pool.createVolume({ name: 'thin', sizeBytes: 8 * MiB });
  await pool.createVolume({ name: 'thick', sizeBytes: 4 * MiB, thin: false });
  const v = pool.openVolume('thin');
  await v.write(1, pattern(512, 4), false);
  assert.deepEqual(await v.read(0, 1), Buffer.alloc(512));
  assert.deepEqual(await v.read(2, 126), Buffer.alloc(126 * 512));
  assert.deepEqual(await pool.openVolume('thick').read(0, 8192), Buffer.alloc(4 * MiB));
  assert.deepEqual((await pool.verify({ checkFreeZeroed: true })).problems, []);
  await pool.close();
  const again = await Pool.import(file);
  assert.deepEqual(await again.openVolume('thin').read(0, 2), Buffer.concat([Buffer.alloc(512), pattern(512, 4)]));
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);
  await again.close();
});

test('replay stops at a damaged journal block; extents whose MAP was lost come back zeroed', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'x', sizeBytes: 64 * MiB, extentSize: 64 * KiB, journalBytes: 256 * KiB });
  await pool.createVolume({ name: 'v', sizeBytes: 8 * MiB });
  const v = pool.openVolume('v');
  // One awaited write per extent: journal block 0 is VOL_CREATE, 1 the reserve, then one MAP per block.
  for (let e = 0; e < 20; e++) await v.write(e * 128, pattern(512, e + 1), false);
  const fd = fs.openSync(file, 'r+');
  const sb = Buffer.alloc(4096);
  fs.readSync(fd, sb, 0, 4096, 0);
  const journalOffset = sb.readUInt32LE(152);
  fs.writeSync(fd, Buffer.from([0xde, 0xad]), 0, 2, journalOffset + 10 * 4096 + 200);
  fs.closeSync(fd);
  await pool.abandon(); // as if killed: no checkpoint, no release
  const again = await Pool.import(file);
  const w = again.openVolume('v');
  assert.equal(again.volumeInfo('v').allocatedBytes, 8 * 64 * KiB, 'MAPs in blocks 2..9 survive');
  for (let e = 0; e < 20; e++) assert.deepEqual(await w.read(e * 128, 1), e < 8 ? pattern(512, e + 1) : Buffer.alloc(512), `extent ${e}`);
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, [], 'data that lost its MAP was erased');
  await again.close();
});
