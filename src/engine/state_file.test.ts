import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './state_file.ts';
import { loadEngineState, saveEngineState, emptyState } from './engine_state.ts';
import { FilePrStore } from './pr_store_file.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-state-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

test('atomic write leaves mode 0600 and no temporary file', () => withDir(async (dir) => {
  const p = join(dir, 'f.json');
  await writeFileAtomic(p, 'one');
  await writeFileAtomic(p, 'two');
  assert.equal((await stat(p)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['f.json']);
}));

test('engine state round-trips and a missing file is the empty state', () => withDir(async (dir) => {
  assert.deepEqual(await loadEngineState(dir), emptyState());
  const s = emptyState();
  s.pools.push({ name: 'p', path: '/x' });
  s.targets.push({ iqn: 'iqn.2026-11.io.berth:p.v', allowedInitiators: null, luns: [{ lun: 0, pool: 'p', volume: 'v' }] });
  await saveEngineState(dir, s);
  assert.deepEqual(await loadEngineState(dir), s);
}));

test('a corrupt state file is refused with STATE_CORRUPT', () => withDir(async (dir) => {
  await writeFile(join(dir, 'engine.json'), '{"version":1,"pools":[{"name":3}],"targets":[]}');
  await assert.rejects(loadEngineState(dir), { code: 'STATE_CORRUPT' });
  await writeFile(join(dir, 'engine.json'), '{nope');
  await assert.rejects(loadEngineState(dir), { code: 'STATE_CORRUPT' });
}));

test('PR store saves, loads and removes', () => withDir(async (dir) => {
  const s = new FilePrStore(join(dir, 'pr.json'));
  assert.equal(s.load(), undefined);
  await s.save({ gen: 3, keys: ['a'] });
  assert.deepEqual(s.load(), { gen: 3, keys: ['a'] });
  await s.save(undefined);
  assert.equal(s.load(), undefined);
}));
