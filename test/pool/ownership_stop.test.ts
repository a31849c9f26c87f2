/**
 * Issue 9 §1: a paused (SIGSTOP) holder is never overrun by an engine that can see it is
 * alive, and when one that cannot see it takes over after the bounded wait, the holder
 * stops writing the moment it wakes: the new owner's data is never overwritten.
 * Run: node --test test/pool/ownership_stop.test.ts
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sleep } from '../helpers/tools.ts';
import { assertQemuOk, call, ok, provision, qemuIo, MiB } from '../engine/engine_kit.ts';
import { assertInUse, IMPORT_WAIT_MS, OTHER_PID_NAMESPACE, poolState, shared, type ErrorBody } from './ownership_kit.ts';

test('SIGSTOP: refused while the holder lives; after a takeover the woken holder writes nothing', async (t) => {
  const s = shared('stop');
  t.after(() => s.cleanup());
  const path = join(s.dir, 'st.pool');
  const a = await s.start('node-a');
  await ok(a.api, 'POST', '/v1/pools', { name: 'st', path, sizeBytes: 128 * MiB });
  const exA = await provision(a.api, { pool: 'st', createPool: false, volume: 'v', volumeBytes: 16 * MiB });
  assertQemuOk(await qemuIo(exA!.url, ['write -P 0x11 0 4M', 'flush']), 'first write through node-a');

  process.kill(a.pid, 'SIGSTOP');
  // Same host and pid namespace: the kernel says node-a lives (stopped is alive), so no wait and no takeover.
  const b = await s.start('node-b');
  const refusal = await call<ErrorBody>(b.api, 'POST', '/v1/pools/import', { path });
  assertInUse(refusal, 'node-a');
  assert.match(refusal.body.error.message, /running on this host/);

  // node-c cannot ask the kernel about node-a: it watches the heartbeat stand still, then takes over.
  const c = await s.start('node-c', { wrap: OTHER_PID_NAMESPACE });
  const t0 = performance.now();
  await ok(c.api, 'POST', '/v1/pools/import', { path });
  assert.ok(performance.now() - t0 >= IMPORT_WAIT_MS, 'the takeover waited out the heartbeat');
  const exC = await ok<{ url: string }>(c.api, 'POST', '/v1/exports', { pool: 'st', volume: 'v', allowedInitiators: null });
  assertQemuOk(await qemuIo(exC.url, ['read -P 0x11 0 4M', 'write -P 0x22 0 4M', 'flush']), 'node-c reads the old data, writes new');

  process.kill(a.pid, 'SIGCONT');
  // The woken holder's lease ran out while it slept: its first write asks for a beat, finds node-c, and fails.
  const late = await qemuIo(exA!.url, ['write -P 0x33 0 4M', 'flush'], { timeoutMs: 60_000 });
  assert.match(late.stdout + late.stderr, /failed|error/i, `the old owner's write must fail:\n${late.stdout}${late.stderr}`);
  let state = await poolState(a.api, 'st');
  for (let i = 0; i < 100 && state?.state !== 'faulted'; i++) {
    await sleep(100);
    state = await poolState(a.api, 'st');
  }
  assert.equal(state?.state, 'faulted');
  assert.match(state?.reason ?? '', /ownership lost: now held by engine node-c/);
  assertQemuOk(await qemuIo(exC.url, ['read -P 0x22 0 4M']), 'node-c still reads its own data');

  // Forgetting the lost pool on node-a never touches its bytes (a destroy would wipe node-c's pool),
  // and its unexport and clean stop write nothing either (no checkpoint over node-c's).
  await ok(a.api, 'DELETE', '/v1/exports/st/v');
  await ok(a.api, 'DELETE', '/v1/pools/st');
  assert.equal(await poolState(a.api, 'st'), undefined);
  await a.stop();
  await c.stop();
  const d = await s.start('node-d');
  // node-c's stop returns when its unshare wrapper exits; its engine may still be releasing the pool.
  let imported = await call<ErrorBody>(d.api, 'POST', '/v1/pools/import', { path });
  for (let i = 0; i < 60 && imported.status === 409; i++) {
    await sleep(500);
    imported = await call<ErrorBody>(d.api, 'POST', '/v1/pools/import', { path });
  }
  assert.equal(imported.status, 201, imported.text);
  const exD = await ok<{ url: string }>(d.api, 'POST', '/v1/exports', { pool: 'st', volume: 'v', allowedInitiators: null });
  assertQemuOk(await qemuIo(exD.url, ['read -P 0x22 0 4M']), 'after both stopped, the data is node-c\'s');
});
