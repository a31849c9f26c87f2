import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Pool } from './pool.ts';
import { computeLayout, defaultMaxVolumes } from './pool_layout.ts';
import { errorCode } from '../util/errors.ts';
import { MiB, tempDir } from './pool_test_util.ts';

const GiB = 1024 * MiB;

test('a pool from about 1 GiB holds 65,536 volumes and snapshots; a small one keeps 1024', () => {
  assert.equal(defaultMaxVolumes(GiB), 65536);
  assert.equal(defaultMaxVolumes(8 * MiB), 1024);
  assert.equal(defaultMaxVolumes(64 * MiB), 4766, 'in between: 1/64 of the pool');
  const l = computeLayout(16 * GiB, MiB);
  assert.equal(l.maxVolumes, 65536);
  assert.ok(l.slotBytes * 2 < 16 * GiB / 32, `slots ${l.slotBytes} bytes each`);
});

test('past the old 1024 entries: volumes and snapshots are created, listed, deleted and come back from import', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'big', sizeBytes: GiB });
  const n = 1500;
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => pool.createVolume({ name: `v${i + k}`, sizeBytes: MiB })));
  }
  for (let i = 0; i < 200; i++) await pool.createSnapshot(`v${i}`, `s${i}`);
  assert.equal(pool.listVolumes().length, n);
  assert.equal(pool.listSnapshots().length, 200);
  await Promise.all(Array.from({ length: 100 }, (_, i) => pool.deleteVolume(`v${n - 1 - i}`)));
  await assert.rejects(pool.createVolume({ name: 'v0', sizeBytes: MiB }), (e) => errorCode(e) === 'VOLUME_EXISTS');
  await pool.close();
  const again = await Pool.import(file);
  t.after(() => again.close());
  assert.equal(again.listVolumes().length, n - 100);
  assert.equal(again.listSnapshots().length, 200);
  assert.deepEqual((await again.verify()).problems, []);
});

test('shares that would crowd the checkpoint slot are refused with NO_SPACE; what was taken still imports', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const file = path.join(dir, 'p');
  const pool = await Pool.create(file, { name: 'frag', sizeBytes: 8 * MiB, extentSize: 64 * 1024 });
  await pool.createVolume({ name: 'a', sizeBytes: 4 * MiB });
  await pool.createVolume({ name: 'b', sizeBytes: 4 * MiB });
  // Interleaved first writes: a's extents alternate with b's, so every one of a's is a run.
  for (let l = 0; l < 48; l++) {
    for (const v of ['a', 'b']) await pool.openVolume(v).write(l * 128, Buffer.alloc(512, 1), false);
  }
  let taken = 0;
  let refusal: unknown;
  for (; taken < 1000; taken++) {
    try {
      await pool.createSnapshot('a', `s${taken}`);
    } catch (err) {
      refusal = err;
      break;
    }
  }
  assert.equal(errorCode(refusal), 'NO_SPACE');
  assert.match((refusal as Error).message, /pool metadata is full/);
  assert.ok(taken > 5, `only ${taken} snapshots before the refusal`);
  assert.deepEqual((await pool.verify()).problems, []);
  await pool.close();
  const again = await Pool.import(file);
  t.after(() => again.close());
  assert.equal(again.listSnapshots().length, taken);
});
