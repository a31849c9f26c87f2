/**
 * Issue 9 §1: a pool is owned by exactly one engine. Real engine processes share a pool
 * file or a loop device; none of these sequences may end with two writers.
 * Run: node --test test/pool/ownership.test.ts
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineStartError } from '../helpers/engine_process.ts';
import { run } from '../helpers/tools.ts';
import { assertQemuOk, call, ok, provision, qemuIo, MiB } from '../engine/engine_kit.ts';
import { assertInUse, OTHER_PID_NAMESPACE, poolState, raceImport, shared, type ErrorBody } from './ownership_kit.ts';

test('a second engine on the same data dir refuses to start and names the first', async (t) => {
  const s = shared('datadir');
  t.after(() => s.cleanup());
  const a = await s.start('node-a');
  await assert.rejects(s.start('node-b', { dataDir: a.dataDir }), (err: unknown) => {
    assert.ok(err instanceof EngineStartError);
    assert.match(err.message, /DATA_DIR_IN_USE|data dir .* is in use by engine node-a on \S+ \(pid \d+/);
    return true;
  });
  await ok(a.api, 'GET', '/v1/pools');
});

test('two engines race to import one pool file: one owns it, the other gets POOL_IN_USE naming it', async (t) => {
  const s = shared('file');
  t.after(() => s.cleanup());
  const path = join(s.dir, 'race.pool');
  const maker = await s.start('maker');
  await ok(maker.api, 'POST', '/v1/pools', { name: 'race', path, sizeBytes: 64 * MiB });
  await maker.stop();
  const a = await s.start('node-a');
  const b = await s.start('node-b');
  const { winner, loser, refusal } = await raceImport(a, b, path);
  const winnerId = winner === a ? 'node-a' : 'node-b';
  assertInUse(refusal, winnerId);
  assert.equal((await poolState(winner.api, 'race'))?.state, 'online');
  assert.equal(await poolState(loser.api, 'race'), undefined, 'the loser registered nothing');
  // Asked again while the winner runs: refused at once, the winner undisturbed.
  assertInUse(await call<ErrorBody>(loser.api, 'POST', '/v1/pools/import', { path }), winnerId);
  // The winner itself, given the same pool under another name (a symlink), is no second writer either.
  const alias = join(s.dir, 'alias.pool');
  symlinkSync(path, alias);
  assertInUse(await call<ErrorBody>(winner.api, 'POST', '/v1/pools/import', { path: alias }), winnerId);
  await ok(winner.api, 'POST', '/v1/pools/race/volumes', { name: 'v', sizeBytes: 8 * MiB });
  assert.equal((await poolState(winner.api, 'race'))?.state, 'online');
  // A clean stop releases the pool: the other engine imports it with no wait, volume and all.
  await winner.stop();
  const imported = await ok<{ name: string; volumeCount: number }>(loser.api, 'POST', '/v1/pools/import', { path });
  assert.equal(imported.volumeCount, 1);
});

test('two engines race to import one pool on a loop device: one owns it, the other gets POOL_IN_USE', async (t) => {
  const s = shared('loop');
  const backing = join(s.dir, `loop-${process.pid}.img`);
  writeFileSync(backing, '');
  truncateSync(backing, 128 * MiB);
  let dev = '';
  t.after(async () => {
    await s.cleanup();
    if (dev !== '') await run('losetup', ['-d', dev], { check: false });
  });
  dev = (await run('losetup', ['-f', '--show', backing])).stdout.trim();
  assert.match(dev, /^\/dev\/loop\d+$/);
  const maker = await s.start('maker');
  await ok(maker.api, 'POST', '/v1/pools', { name: 'lp', path: dev });
  await maker.stop();
  const a = await s.start('node-a');
  const b = await s.start('node-b');
  const { winner, loser, refusal } = await raceImport(a, b, dev);
  assert.equal(refusal.body.error.code, 'POOL_IN_USE');
  assert.equal((await poolState(winner.api, 'lp'))?.state, 'online');
  assert.equal(await poolState(loser.api, 'lp'), undefined);
  // Once the winner holds it, the refusal names it (the device is also O_EXCL on this host).
  assertInUse(await call<ErrorBody>(loser.api, 'POST', '/v1/pools/import', { path: dev }), winner === a ? 'node-a' : 'node-b');
  await ok(winner.api, 'POST', '/v1/pools/lp/volumes', { name: 'v', sizeBytes: 8 * MiB });
});

test('kill -9: an engine that cannot ask the kernel is refused while the heartbeat runs, and takes over after the bounded wait once it stops, with every acknowledged write', async (t) => {
  const s = shared('kill');
  t.after(() => s.cleanup());
  const path = join(s.dir, 'k.pool');
  // A slower beat here: node-a must keep beating through node-b's whole watch even on a busy machine.
  const heartbeatMs = 300;
  const a = await s.start('node-a', { heartbeatMs });
  await ok(a.api, 'POST', '/v1/pools', { name: 'k', path, sizeBytes: 128 * MiB });
  const ex = await provision(a.api, { pool: 'k', createPool: false, volume: 'v', volumeBytes: 16 * MiB });
  assertQemuOk(await qemuIo(ex!.url, ['write -P 0x5a 0 4M', 'flush']), 'write through node-a');
  // node-b runs in a pid namespace of its own: it cannot see whether node-a lives, only its heartbeat.
  const b = await s.start('node-b', { wrap: OTHER_PID_NAMESPACE, heartbeatMs });
  const refusal = await call<ErrorBody>(b.api, 'POST', '/v1/pools/import', { path });
  assertInUse(refusal, 'node-a');
  assert.match(refusal.body.error.message, /heartbeat is current/);
  await a.kill();
  const t0 = performance.now();
  const imported = await ok<{ name: string }>(b.api, 'POST', '/v1/pools/import', { path });
  assert.ok(performance.now() - t0 >= 10 * heartbeatMs, 'the takeover waited out the heartbeat');
  assert.equal(imported.name, 'k');
  const exB = await ok<{ url: string }>(b.api, 'POST', '/v1/exports', { pool: 'k', volume: 'v', allowedInitiators: null });
  assertQemuOk(await qemuIo(exB.url, ['read -P 0x5a 0 4M']), 'read through node-b');
});
