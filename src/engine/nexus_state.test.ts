import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNexusRecords, saveNexusRecords, NEXUS_STATE_FILE, type NexusRecord } from './nexus_state.ts';
import { FileGenerationStore, GENERATIONS_FILE } from './generation_store_file.ts';

const record = (node: string): NexusRecord => ({
  name: 'vol', uuid: '7c1d2f0e-0000-4000-8000-000000000001', generation: 3, blockSize: 512, blockCount: 2048, thin: true,
  regionBytes: 65536, rebuildThrottleBytesPerSec: 0,
  replicas: [{ node, pool: 'p', volume: 'v', state: 'online' }, { node: '10.0.0.9:9520', pool: 'p', volume: 'v', state: 'stale', intents: 'AQ==' }],
});

test('nexus_state_roundtrip: records survive a save and load; a moved own endpoint is renamed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-nexus-state-'));
  try {
    assert.deepEqual(await loadNexusRecords(dir, 'x:1'), []);
    await saveNexusRecords(dir, '127.0.0.1:1000', [record('127.0.0.1:1000')]);
    assert.deepEqual(await loadNexusRecords(dir, '127.0.0.1:1000'), [record('127.0.0.1:1000')]);
    const moved = await loadNexusRecords(dir, '127.0.0.1:2000');
    assert.equal(moved[0].replicas[0].node, '127.0.0.1:2000');
    assert.equal(moved[0].replicas[1].node, '10.0.0.9:9520');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('nexus_state_corrupt: a malformed file is refused with STATE_CORRUPT, not guessed at', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-nexus-state-'));
  try {
    await writeFile(join(dir, NEXUS_STATE_FILE), '{"version":1,"nexuses":[{"name":"x"}]}');
    await assert.rejects(loadNexusRecords(dir, 'a:1'), { code: 'STATE_CORRUPT' });
    await writeFile(join(dir, NEXUS_STATE_FILE), 'not json');
    await assert.rejects(loadNexusRecords(dir, 'a:1'), { code: 'STATE_CORRUPT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('nexus_state_throttle_mode: a nexus\'s own throttle mode round-trips; a file from before the field loads without one; an unknown mode is STATE_CORRUPT', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-nexus-state-'));
  try {
    await saveNexusRecords(dir, 'a:1', [{ ...record('a:1'), rebuildThrottleMode: 'fixed' }]);
    assert.equal((await loadNexusRecords(dir, 'a:1'))[0].rebuildThrottleMode, 'fixed');
    // Written by an engine before throttle modes existed: no field, so the engine's default applies.
    const old = { version: 1, self: 'a:1', nexuses: [record('a:1')] };
    await writeFile(join(dir, NEXUS_STATE_FILE), JSON.stringify(old));
    const loaded = await loadNexusRecords(dir, 'a:1');
    assert.equal(loaded[0].rebuildThrottleMode, undefined);
    assert.equal(loaded[0].replicas[1].intents, 'AQ==', 'the coarse write-intent map of a stale replica loads as before');
    await writeFile(join(dir, NEXUS_STATE_FILE), JSON.stringify({ ...old, nexuses: [{ ...record('a:1'), rebuildThrottleMode: 'turbo' }] }));
    await assert.rejects(loadNexusRecords(dir, 'a:1'), { code: 'STATE_CORRUPT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('generation_store_file: raises persist, never go down, and survive a reload', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-gen-'));
  try {
    const s = await FileGenerationStore.load(dir);
    assert.equal(s.get('p/v'), 0);
    await Promise.all([s.set('p/v', 5), s.set('p/v', 3), s.set('p/w', 1)]);
    assert.equal(s.get('p/v'), 5);
    const again = await FileGenerationStore.load(dir);
    assert.equal(again.get('p/v'), 5);
    assert.equal(again.get('p/w'), 1);
    await writeFile(join(dir, GENERATIONS_FILE), '{"generations":{"p/v":-1}}');
    await assert.rejects(FileGenerationStore.load(dir), { code: 'STATE_CORRUPT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
