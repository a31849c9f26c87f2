import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Pool } from './pool.ts';
import { PoolFile } from './pool_file.ts';
import { backRange } from './pool_host_space.ts';
import { errorCode } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { KiB, MiB, tempDir } from './pool_test_util.ts';

const code = (c: string) => (e: unknown) => errorCode(e) === c;

/** A logger whose JSON lines land in `lines`. */
function capture(): { lines: { level: number; msg: string; condition?: string; stack?: unknown }[]; logger: Logger } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { lines, logger: pino<never>({ level: 'info' }, stream) };
}

const backed = (file: string): number => fs.statSync(file).blocks * 512;

test('a write the host refuses for want of space is NO_SPACE (not a medium error), and the pool file says so', async () => {
  const f = await PoolFile.open('/dev/full', fs.constants.O_RDWR);
  const seen: string[] = [];
  f.onNoSpace = (c) => seen.push(c);
  try {
    await assert.rejects(f.write(Buffer.alloc(4096, 1), 0, 4096, 0), code('NO_SPACE'));
    await assert.rejects(new Promise<void>((resolve, reject) => {
      f.writeFrom(Buffer.alloc(512), 0, 512, 0, (err) => (err === null ? resolve() : reject(err)));
    }), code('NO_SPACE'));
    assert.deepEqual(seen, ['ENOSPC', 'ENOSPC']);
  } finally {
    await f.close();
  }
});

test('a pool with no free extents is full: one warning when it fills, one line when space comes back', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const { lines, logger } = capture();
  const pool = await Pool.create(path.join(dir, 'p'), { name: 'small', sizeBytes: 4 * MiB, extentSize: 64 * KiB, logger });
  t.after(() => pool.close());
  await pool.createVolume({ name: 'v', sizeBytes: 8 * MiB });
  const v = pool.openVolume('v');
  assert.equal(pool.info().condition, 'ok');
  await assert.rejects(v.write(0, Buffer.alloc(8 * MiB, 3), false), code('NO_SPACE'));
  await assert.rejects(v.write(0, Buffer.alloc(8 * MiB, 3), false), code('NO_SPACE'), 'still full');
  const full = pool.info();
  assert.equal(full.freeBytes, 0);
  assert.equal(full.condition, 'full');
  assert.equal(full.reason, 'no free extents left in the pool');
  const warned = lines.filter((l) => l.msg === 'pool is full');
  assert.equal(warned.length, 1, 'one line for the change, not one per failed write');
  assert.equal(warned[0].level, 40, 'a warning');
  assert.equal(warned[0].stack, undefined, 'no stack trace for an expected state');

  await v.unmap(0, (8 * MiB) / 512);
  assert.equal(pool.info().condition, 'ok');
  assert.equal(pool.info().reason, undefined);
  assert.equal(lines.filter((l) => l.msg === 'pool can allocate again').length, 1);
  assert.equal(lines.filter((l) => l.msg === 'pool is full').length, 1);
});

test('thick pools and thick volumes own their blocks on the host; a sparse pool backs only its metadata', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const thickFile = path.join(dir, 'thick');
  const thick = await Pool.create(thickFile, { name: 'thick', sizeBytes: 16 * MiB, thick: true });
  t.after(() => thick.close());
  assert.ok(backed(thickFile) >= 16 * MiB, `a thick pool file is allocated (${backed(thickFile)})`);
  assert.equal(thick.info().backedBytes, backed(thickFile));

  const sparseFile = path.join(dir, 'sparse');
  const sparse = await Pool.create(sparseFile, { name: 'sparse', sizeBytes: 64 * MiB });
  t.after(() => sparse.close());
  const meta = sparse.dataOffset;
  const before = backed(sparseFile);
  assert.ok(before >= meta && before < meta + MiB, `metadata (${meta}) is backed, the data area is not (${before})`);
  await sparse.createVolume({ name: 'thin', sizeBytes: 8 * MiB });
  assert.equal(backed(sparseFile), before, 'a thin volume takes no host blocks');
  await sparse.createVolume({ name: 'fat', sizeBytes: 8 * MiB, thin: false });
  assert.ok(backed(sparseFile) >= before + 8 * MiB, `a thick volume owns its blocks (${backed(sparseFile)})`);
  assert.equal(sparse.info().backedBytes, backed(sparseFile));
  await sparse.resizeVolume('fat', 12 * MiB);
  assert.ok(backed(sparseFile) >= before + 12 * MiB, 'thick growth too');
  assert.deepEqual((await sparse.verify({ checkFreeZeroed: true })).problems, []);
});

test('without fallocate a range is written with zeros only where its bytes do not matter', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const p = path.join(dir, 'f');
  fs.writeFileSync(p, Buffer.alloc(64 * KiB, 0x5a));
  const f = await PoolFile.open(p, fs.constants.O_RDWR);
  const savedPath = process.env.PATH;
  process.env.PATH = dir; // no fallocate here: the tool is "missing"
  try {
    await backRange(f, p, 0, 64 * KiB, 'live metadata', false);
    assert.ok(fs.readFileSync(p).equals(Buffer.alloc(64 * KiB, 0x5a)), 'live bytes untouched');
    await backRange(f, p, 0, 32 * KiB, 'free extents', true);
    assert.ok(fs.readFileSync(p).subarray(0, 32 * KiB).equals(Buffer.alloc(32 * KiB)), 'free range written with zeros');
  } finally {
    process.env.PATH = savedPath;
    await f.close();
  }
});
