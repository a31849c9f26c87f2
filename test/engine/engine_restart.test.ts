/**
 * What survives the engine process: a clean restart re-imports pools and re-exports
 * volumes; a pool that cannot be imported is reported faulted instead of stopping the
 * engine; a kill -9 in the middle of writes loses no acknowledged write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { startEngine } from '../helpers/engine_process.ts';
import { assertQemuOk, ok, provision, qemuIo, refused, withTmp, GiB, MiB, type ExportDoc } from './engine_kit.ts';

test('a restart re-imports pools and volumes and re-exports them', () => withTmp('restart', async (dataDir) => {
  const engine = await startEngine({ dataDir });
  try {
    const ex = (await provision(engine.api, { pool: 'keep', poolBytes: 2 * GiB, volume: 'v', volumeBytes: 64 * MiB }))!;
    await ok(engine.api, 'POST', '/v1/pools/keep/volumes', { name: 'unexported', sizeBytes: 8 * MiB, thin: false });
    assertQemuOk(await qemuIo(ex.url, ['write -P 0x3c 1M 2M', 'flush']), 'write before restart');
    const before = await ok<{ volumes: unknown[] }>(engine.api, 'GET', '/v1/pools/keep/volumes');

    await engine.restart();
    const pools = await ok<{ pools: { name: string; state: string }[] }>(engine.api, 'GET', '/v1/pools');
    assert.deepEqual(pools.pools.map((p) => [p.name, p.state]), [['keep', 'online']]);
    assert.deepEqual(await ok(engine.api, 'GET', '/v1/pools/keep/volumes'), before);
    const exports = await ok<{ exports: ExportDoc[] }>(engine.api, 'GET', '/v1/exports');
    assert.deepEqual(exports.exports.map((e) => e.url), [ex.url], 'same IQN, LUN and portal after restart');
    assertQemuOk(await qemuIo(ex.url, ['read -P 0x3c 1M 2M', 'read -P 0 0 1M']), 'data after restart');
  } finally {
    const code = await engine.stop();
    assert.equal(code, 0);
  }
}));

test('a pool that fails to import is faulted, the rest of the engine serves', () => withTmp('faulted', async (dataDir) => {
  const engine = await startEngine({ dataDir });
  try {
    const good = (await provision(engine.api, { pool: 'good', poolBytes: GiB, volume: 'g', volumeBytes: 16 * MiB }))!;
    await provision(engine.api, { pool: 'lost', poolBytes: GiB, volume: 'l', volumeBytes: 16 * MiB });
    const lostPath = join(dataDir, 'pools', 'lost.pool');
    await engine.stop();
    await rename(lostPath, `${lostPath}.away`);

    await engine.restart();
    const lost = await ok<{ state: string; reason: string }>(engine.api, 'GET', '/v1/pools/lost');
    assert.equal(lost.state, 'faulted');
    assert.match(lost.reason, /^POOL_NOT_FOUND: /);
    assert.equal((await ok(engine.api, 'GET', '/v1/pools/good')).state, 'online');
    await refused(engine.api, 'GET', '/v1/pools/lost/volumes', undefined, 409, 'POOL_FAULTED');
    const exports = await ok<{ exports: { volume: string; state: string }[] }>(engine.api, 'GET', '/v1/exports');
    assert.deepEqual(exports.exports.map((e) => [e.volume, e.state]), [['g', 'online'], ['l', 'faulted']]);
    assertQemuOk(await qemuIo(good.url, ['write -P 1 0 1M', 'read -P 1 0 1M']), 'the healthy pool serves');
    const health = await ok<{ pools: { online: number; faulted: number } }>(engine.api, 'GET', '/v1/health');
    assert.deepEqual(health.pools, { online: 1, faulted: 1 });

    // Put the file back, restart: the pool and its export come back by themselves.
    await rename(`${lostPath}.away`, lostPath);
    await engine.restart();
    assert.equal((await ok(engine.api, 'GET', '/v1/pools/lost')).state, 'online');
    const back = await ok<{ exports: { volume: string; state: string }[] }>(engine.api, 'GET', '/v1/exports');
    assert.deepEqual(back.exports.map((e) => [e.volume, e.state]), [['g', 'online'], ['l', 'online']]);

    // A faulted pool can be forgotten once nothing exports from it; its file is left alone.
    await engine.stop();
    await rename(lostPath, `${lostPath}.away`);
    await engine.restart();
    await refused(engine.api, 'DELETE', '/v1/pools/lost', undefined, 409, 'VOLUME_EXPORTED');
    await ok(engine.api, 'DELETE', '/v1/exports/lost/l');
    await ok(engine.api, 'DELETE', '/v1/pools/lost');
    await refused(engine.api, 'GET', '/v1/pools/lost', undefined, 404, 'POOL_NOT_FOUND');
    const imported = await ok<{ name: string; volumeCount: number }>(engine.api, 'POST', '/v1/pools/import', { path: `${lostPath}.away` });
    assert.deepEqual([imported.name, imported.volumeCount], ['lost', 1]);
    await refused(engine.api, 'POST', '/v1/pools/import', { path: `${lostPath}.away` }, 409, 'POOL_EXISTS');
  } finally {
    await engine.stop();
  }
}));

interface Acked {
  offset: number;
  pattern: number;
}

/** Writes in flight at once: aio_write batches, each drained by aio_flush. */
const QUEUE_DEPTH = 16;

/**
 * Streams qemu-io writes of distinct patterns, QUEUE_DEPTH at a time, and records each
 * one qemu-io reports as done (completions come in any order); `onAck` sees them as
 * they come. Resolves when qemu-io exits (killed or not).
 */
function writeStream(url: string, count: number, chunk: number, onAck: (a: Acked) => void): { stop(): void; done: Promise<void> } {
  // Line-buffered, or acknowledgements would reach us in 4 KiB lumps long after the fact.
  const args = ['-oL', 'qemu-io', '-f', 'raw'];
  for (let i = 0; i < count; i++) {
    args.push('-c', `aio_write -P ${(i % 250) + 1} ${i * chunk} ${chunk}`);
    if (i % QUEUE_DEPTH === QUEUE_DEPTH - 1) args.push('-c', 'aio_flush');
  }
  args.push(url);
  const child = spawn('stdbuf', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    partial += c;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const m = /^wrote \d+\/\d+ bytes at offset (\d+)/.exec(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      if (m) {
        const offset = Number(m[1]);
        onAck({ offset, pattern: ((offset / chunk) % 250) + 1 });
      }
    }
  });
  return { stop: () => child.kill('SIGKILL'), done: new Promise((resolve) => child.on('close', () => resolve())) };
}

test('kill -9 under writes loses no acknowledged write', () => withTmp('kill9', async (dataDir) => {
  const engine = await startEngine({ dataDir });
  try {
    const chunk = 256 * 1024;
    const count = 400;
    const ex = (await provision(engine.api, { pool: 'crash', poolBytes: GiB, volume: 'v', volumeBytes: count * chunk }))!;
    const acked: Acked[] = [];
    let killed: Promise<void> | undefined;
    // The initiator would keep trying to reconnect to a dead target: stop it once the engine is gone.
    const writer = writeStream(ex.url, count, chunk, (a) => {
      acked.push(a);
      if (acked.length === 120 && !killed) killed = engine.kill().then(() => writer.stop());
    });
    await writer.done;
    await killed;
    assert.ok(acked.length >= 120, `qemu-io acknowledged ${acked.length} writes before the kill`);

    await engine.restart();
    // Verify in batches: one qemu-io per 50 reads keeps the command line short.
    for (let i = 0; i < acked.length; i += 50) {
      const reads = acked.slice(i, i + 50).map((a) => `read -P ${a.pattern} ${a.offset} ${chunk}`);
      assertQemuOk(await qemuIo(ex.url, reads), `acknowledged writes ${i}..${i + reads.length - 1} after kill -9`);
    }
  } finally {
    await engine.stop();
  }
}));
