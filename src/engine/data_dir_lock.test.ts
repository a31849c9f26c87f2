import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DATA_DIR_LOCK_FILE, lockDataDir } from './data_dir_lock.ts';
import { errorCode } from '../util/errors.ts';

test('one lock per data dir: a second is refused naming the holder; release lets the next one in', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lock-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = await lockDataDir(dir, 'node-a');
  await assert.rejects(lockDataDir(dir, 'node-b'), (e) => errorCode(e) === 'DATA_DIR_IN_USE'
    && new RegExp(`engine node-a on \\S+ \\(pid ${process.pid}`).test((e as Error).message));
  // Another directory is another lock.
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lock-'));
  t.after(() => fs.rmSync(other, { recursive: true, force: true }));
  const second = await lockDataDir(other, 'node-b');
  await first.release();
  assert.equal(fs.existsSync(path.join(dir, DATA_DIR_LOCK_FILE)), false);
  const again = await lockDataDir(dir, 'node-c');
  await again.release();
  await second.release();
});
