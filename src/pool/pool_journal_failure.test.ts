import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from './pool.ts';
import { NoSpaceError } from '../block/errors.ts';
import { errorCode } from '../util/errors.ts';
import { KiB, MiB, pattern, tempDir } from './pool_test_util.ts';

const code = (c: string) => (e: unknown) => errorCode(e) === c;

/**
 * Makes the pool's metadata writes (everything below the data area) fail like a full
 * host filesystem while `refusing` is set: the first 4 KiB of each refused write still
 * lands, as a short write before ENOSPC would leave it (a torn batch).
 */
function refuseMetadata(pool: Pool): { set: (on: boolean) => void; refused: () => number } {
  const file = pool.file;
  const write = file.write.bind(file);
  let on = false;
  let count = 0;
  file.write = async (buf: Buffer, off: number, len: number, pos: number): Promise<void> => {
    if (!on || pos >= pool.dataOffset) return write(buf, off, len, pos);
    count++;
    if (len > 4 * KiB) await write(buf, off, 4 * KiB, pos);
    file.onNoSpace?.('ENOSPC');
    throw new NoSpaceError('host filesystem has no space for the pool file (ENOSPC)');
  };
  return { set: (v) => { on = v; }, refused: () => count };
}

test('metadata writes the host refuses fail their callers, leave the pool consistent, and the journal resumes', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'tank', sizeBytes: 32 * MiB, extentSize: 64 * KiB });
  await pool.createVolume({ name: 'a', sizeBytes: 4 * MiB });
  const a = pool.openVolume('a');
  await a.write(0, pattern(64 * KiB, 1), true);
  const before = pool.info();
  const meta = refuseMetadata(pool);

  meta.set(true);
  await assert.rejects(pool.createVolume({ name: 'thick', sizeBytes: 2 * MiB, thin: false }), code('NO_SPACE'));
  await assert.rejects(pool.createVolume({ name: 'thin', sizeBytes: 2 * MiB }), code('NO_SPACE'));
  await assert.rejects(pool.resizeVolume('a', 8 * MiB), code('NO_SPACE'));
  // A thin write that needs an extent: the data may land, the mapping does not.
  await assert.rejects(a.write((MiB / 512) * 2, pattern(64 * KiB, 2), false), code('NO_SPACE'));
  assert.ok(meta.refused() >= 4);
  assert.deepEqual(pool.listVolumes().map((v) => [v.name, v.sizeBytes, v.allocatedBytes]), [['a', 4 * MiB, 64 * KiB]], 'nothing half made');
  assert.equal(pool.info().freeBytes, before.freeBytes, 'no extent kept');
  assert.deepEqual((await pool.verify()).problems, [], 'model and allocator agree');
  // A crash now finds what was durable before the refusals (plus at most a torn batch).
  const crashCopy = path.join(dir, 'crash');
  fs.copyFileSync(file, crashCopy);

  // Room again: the same requests succeed, the first through a checkpoint into a new epoch.
  meta.set(false);
  await pool.createVolume({ name: 'thick', sizeBytes: 2 * MiB, thin: false });
  await pool.createVolume({ name: 'thin', sizeBytes: 2 * MiB });
  await pool.resizeVolume('a', 8 * MiB);
  await a.write((MiB / 512) * 2, pattern(64 * KiB, 3), true);
  assert.deepEqual((await pool.verify()).problems, []);
  await pool.close();

  const again = await Pool.import(file);
  t.after(() => again.close());
  assert.deepEqual(again.listVolumes().map((v) => [v.name, v.sizeBytes]), [['a', 8 * MiB], ['thick', 2 * MiB], ['thin', 2 * MiB]]);
  const va = again.openVolume('a');
  assert.deepEqual(await va.read(0, 128), pattern(64 * KiB, 1));
  assert.deepEqual(await va.read((MiB / 512) * 2, 128), pattern(64 * KiB, 3));
  assert.deepEqual((await again.verify({ checkFreeZeroed: true })).problems, []);

  const crashed = await Pool.import(crashCopy);
  t.after(() => crashed.close());
  assert.deepEqual(crashed.listVolumes().map((v) => v.name), ['a']);
  assert.deepEqual(await crashed.openVolume('a').read(0, 128), pattern(64 * KiB, 1));
  assert.deepEqual((await crashed.verify({ checkFreeZeroed: true })).problems, []);
});

test('a close whose checkpoint fails ends as a crash: it rejects, stops beating, closes, and the pool imports again at once with its data', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'tank', sizeBytes: 32 * MiB, extentSize: 64 * KiB });
  await pool.createVolume({ name: 'a', sizeBytes: 4 * MiB });
  await pool.openVolume('a').write(0, pattern(64 * KiB, 7), true);
  refuseMetadata(pool).set(true);
  await assert.rejects(pool.close(), code('NO_SPACE'));
  // Still holding the pool (beating as a live owner of this process) would refuse this import with POOL_IN_USE.
  const again = await Pool.import(file);
  t.after(() => again.close());
  assert.deepEqual(await again.openVolume('a').read(0, 128), pattern(64 * KiB, 7));
  assert.deepEqual((await again.verify()).problems, []);
});
