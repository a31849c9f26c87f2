import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../util/log.ts';
import { Engine } from './engine.ts';

const MiB = 2 ** 20;

async function withEngine(fn: (dataDir: string, open: () => Promise<Engine>) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-engine-unit-'));
  const opened: Engine[] = [];
  const open = async (): Promise<Engine> => {
    const e = await Engine.open({ dataDir, iscsi: { host: '127.0.0.1', port: 0 }, logger: silentLogger() });
    opened.push(e);
    return e;
  };
  try {
    await fn(dataDir, open);
  } finally {
    for (const e of opened) await e.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('concurrent exports to one target get distinct LUNs and survive a reopen', () => withEngine(async (dataDir, open) => {
  const engine = await open();
  await engine.createPool({ name: 'p', sizeBytes: 256 * MiB });
  const names = ['a', 'b', 'c', 'd', 'e'];
  for (const n of names) await engine.createVolume('p', { name: n, sizeBytes: 4 * MiB });
  const iqn = 'iqn.2026-11.io.berth:shared';
  const views = await Promise.all(names.map((volume) => engine.createExport({ pool: 'p', volume, targetIqn: iqn })));
  assert.deepEqual(views.map((v) => v.lun).sort(), [0, 1, 2, 3, 4]);
  const state = JSON.parse(await readFile(join(dataDir, 'engine.json'), 'utf8'));
  assert.equal(state.targets.length, 1);
  assert.deepEqual(state.targets[0].luns.map((l: { lun: number }) => l.lun), [0, 1, 2, 3, 4]);
  const before = engine.listExports().map((e) => [e.volume, e.lun]);
  await engine.close();

  const again = await open();
  assert.deepEqual(again.listExports().map((e) => [e.volume, e.lun]), before);
  assert.deepEqual(again.listTargets().map((t) => t.luns.length), [5]);
}));

test('a failed export leaves no target behind and nothing in the state', () => withEngine(async (dataDir, open) => {
  const engine = await open();
  await engine.createPool({ name: 'p', sizeBytes: 64 * MiB });
  await assert.rejects(engine.createExport({ pool: 'p', volume: 'missing' }), { code: 'VOLUME_NOT_FOUND' });
  await assert.rejects(engine.createExport({ pool: 'nope', volume: 'x' }), { code: 'POOL_NOT_FOUND' });
  assert.deepEqual(engine.listTargets(), []);
  const state = JSON.parse(await readFile(join(dataDir, 'engine.json'), 'utf8'));
  assert.deepEqual(state.targets, []);
}));

test('deleting a volume removes its PR state; exported volumes and busy pools are refused', () => withEngine(async (dataDir, open) => {
  const engine = await open();
  await engine.createPool({ name: 'p', sizeBytes: 64 * MiB });
  const v = await engine.createVolume('p', { name: 'v', sizeBytes: 4 * MiB });
  await engine.createExport({ pool: 'p', volume: 'v', allowedInitiators: ['iqn.2026-11.io.berth.test:x'] });
  const prFile = join(dataDir, 'pr', `${v.uuid}.json`);
  await writeFile(prFile, '{"generation":1}');
  await assert.rejects(engine.deleteVolume('p', 'v'), { code: 'VOLUME_EXPORTED' });
  await assert.rejects(engine.destroyPool('p'), { code: 'VOLUME_EXPORTED' });
  await engine.deleteExport('p', 'v');
  await engine.deleteVolume('p', 'v');
  await assert.rejects(access(prFile), { code: 'ENOENT' });
  await engine.destroyPool('p');
  await assert.rejects(access(join(dataDir, 'pools', 'p.pool')), { code: 'ENOENT' });
  assert.deepEqual(engine.listPools(), []);
}));

test('a corrupt state file stops the engine from starting rather than forgetting exports', () => withEngine(async (dataDir, open) => {
  await writeFile(join(dataDir, 'engine.json'), '{"version": 99, "pools": [], "targets": []}');
  await assert.rejects(open(), { code: 'STATE_CORRUPT' });
}));

test('access rules belong to the target: a later export may change or keep them', () => withEngine(async (_dataDir, open) => {
  const engine = await open();
  await engine.createPool({ name: 'p', sizeBytes: 64 * MiB });
  for (const n of ['a', 'b', 'c']) await engine.createVolume('p', { name: n, sizeBytes: 4 * MiB });
  const iqn = 'iqn.2026-11.io.berth:rules';
  const first = await engine.createExport({
    pool: 'p', volume: 'a', targetIqn: iqn, allowedInitiators: ['iqn.2026-11.io.berth.test:one'],
    chap: { user: 'u', secret: 'first-secret-123' },
  });
  assert.deepEqual(first.chap, { user: 'u' });
  const kept = await engine.createExport({ pool: 'p', volume: 'b', targetIqn: iqn });
  assert.deepEqual([kept.allowedInitiators, kept.chap], [['iqn.2026-11.io.berth.test:one'], { user: 'u' }]);
  const changed = await engine.createExport({ pool: 'p', volume: 'c', targetIqn: iqn, allowedInitiators: null, chap: null });
  assert.deepEqual([changed.allowedInitiators, changed.chap], [null, null]);
  assert.deepEqual(engine.listExports().map((e) => e.chap), [null, null, null]);
  await assert.rejects(engine.createExport({ pool: 'p', volume: 'a' }), { code: 'EXPORT_EXISTS' });
  await engine.createVolume('p', { name: 'd', sizeBytes: 4 * MiB });
  await assert.rejects(engine.createExport({
    pool: 'p', volume: 'd', chap: { user: 'u', secret: 'same-secret-123', mutualUser: 't', mutualSecret: 'same-secret-123' },
  }), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(engine.createExport({ pool: 'p', volume: 'd', targetIqn: iqn, lun: 0 }), { code: 'LUN_EXISTS' });
  assert.equal(engine.listExports().length, 3, 'refused exports leave nothing behind');
}));
