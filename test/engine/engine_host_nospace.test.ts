/**
 * A sparse pool file on a host filesystem that runs out of space (a small tmpfs this
 * test mounts): a write that needs new host blocks fails with DATA PROTECT / SPACE
 * ALLOCATION FAILED WRITE PROTECT (07/27/07, the pool-exhaustion sense; qemu's iSCSI
 * driver turns exactly that sense into ENOSPC and any MEDIUM ERROR into EIO), the pool
 * reports condition `hostFull` with a reason in the API, the CLI and /metrics, the engine
 * logs one line per change, writes resume by themselves once space is freed, and an
 * engine killed while the filesystem is full imports the pool again (data intact).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, open, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { run, waitFor } from '../helpers/tools.ts';
import { assertQemuOk, berth, call, ok, provision, qemuIo, MiB } from './engine_kit.ts';

interface PoolDoc {
  state: string; condition?: string; reason?: string; backedBytes?: number; hostAvailableBytes?: number; freeBytes: number;
}

const FS_BYTES = 48 * MiB;
const NOSPC = /No space left on device/;

/** Fills the filesystem with a file of `bytes` (or until it is full when bytes is Infinity). */
async function fill(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = Buffer.alloc(MiB, 0x77);
  try {
    for (let done = 0; done < bytes;) {
      const n = Math.min(chunk.length, bytes - done);
      try {
        await fh.write(chunk, 0, n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw err;
      }
      done += n;
    }
  } finally {
    await fh.close();
  }
}

async function available(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

function countLines(engine: EngineProcess, msg: string): number {
  const log = engine.diagnostics();
  // The tail must reach back to the start, or a count would miss lines.
  assert.match(log, /engine ready/, 'the whole engine log is in view');
  return log.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
}

async function metric(api: string, line: string): Promise<boolean> {
  const r = await call(api, 'GET', '/metrics');
  return r.text.split('\n').includes(line);
}

test('a full host filesystem is a pool condition: NO_SPACE sense, one log line, resumes, imports', { timeout: 600_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'berth-hostfull-'));
  const fsDir = join(dataDir, 'pools');
  await mkdir(fsDir);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES},mode=0700`, `berth-hostfull-${process.pid}`, fsDir]);
  let engine: EngineProcess | undefined;
  try {
    engine = await startEngine({ dataDir });
    const api = engine.api;
    const ex = (await provision(api, { pool: 'hf', poolBytes: 256 * MiB, extentSize: MiB, volume: 'v', volumeBytes: 128 * MiB }))!;
    const fresh = await ok<PoolDoc>(api, 'GET', '/v1/pools/hf');
    assert.equal(fresh.condition, 'ok');
    assert.equal(fresh.reason, undefined);
    assert.ok(fresh.backedBytes! > 0 && fresh.backedBytes! < 8 * MiB, `only metadata is backed (${fresh.backedBytes})`);
    assertQemuOk(await qemuIo(ex.url, ['write -P 0xa1 0 4M', 'flush']), 'first data');

    // Leave the filesystem about 8 MiB, then write 32 MiB into unallocated blocks.
    const filler = join(fsDir, 'filler');
    await fill(filler, (await available(fsDir)) - 8 * MiB);
    const refused = await qemuIo(ex.url, ['write -P 0xb2 8M 32M'], { timeoutMs: 120_000 });
    assert.match(refused.stdout + refused.stderr, NOSPC, `SPACE ALLOCATION FAILED, not a medium error\n${refused.stdout}${refused.stderr}`);
    const full = await ok<PoolDoc>(api, 'GET', '/v1/pools/hf');
    assert.equal(full.state, 'online');
    assert.equal(full.condition, 'hostFull');
    assert.match(full.reason!, /host filesystem .*out of space \(ENOSPC\)/);
    assert.ok(full.hostAvailableBytes! < MiB, `host has no room (${full.hostAvailableBytes})`);
    assert.ok(await metric(api, 'berth_pool_condition{pool="hf",condition="hostFull"} 1'), 'metric shows hostFull');
    assert.ok(await metric(api, 'berth_pool_condition{pool="hf",condition="ok"} 0'));
    const cli = await berth(api, ['pool', 'list']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /│ hf +│ online +│[^\n]*│ hostFull +│ \d+ MiB +│/, cli.stdout);
    // Blocks the pool already has keep working: reads and rewrites of written data.
    assertQemuOk(await qemuIo(ex.url, ['read -P 0xa1 0 4M', 'write -P 0xa3 0 4M', 'read -P 0xa3 0 4M']), 'backed blocks while full');
    // A second refused write is no new state: still one line.
    { const r = await qemuIo(ex.url, ['write -P 0xb3 64M 4M']); assert.match(r.stdout + r.stderr, NOSPC); }
    assert.equal(countLines(engine, 'pool host filesystem is full'), 1, 'one line for the change');

    // A thick volume that cannot get its blocks is refused whole, naming what was asked.
    const beforeThick = await ok<PoolDoc>(api, 'GET', '/v1/pools/hf');
    const thick = await call<{ error: { code: string; message: string } }>(api, 'POST', '/v1/pools/hf/volumes', { name: 'fat', sizeBytes: 16 * MiB, thin: false });
    assert.equal(thick.status, 507, thick.text);
    assert.equal(thick.body.error.code, 'NO_SPACE');
    assert.match(thick.body.error.message, /host filesystem cannot allocate .*thick volume fat \(16777216 bytes\)/);
    const afterThick = await ok<PoolDoc>(api, 'GET', '/v1/pools/hf');
    assert.equal(afterThick.freeBytes, beforeThick.freeBytes, 'no extents kept');
    assert.ok(afterThick.backedBytes! <= beforeThick.backedBytes!, 'host blocks given back');
    assert.equal((await call(api, 'GET', '/v1/pools/hf/volumes/fat')).status, 404);
    const bigPool = await call<{ error: { code: string } }>(api, 'POST', '/v1/pools', { name: 'tp', sizeBytes: 64 * MiB, thick: true });
    assert.equal(bigPool.body.error.code, 'NO_SPACE', bigPool.text);
    assert.equal((await call(api, 'GET', '/v1/pools/tp')).status, 404);

    // Space comes back: the next write succeeds, and the condition returns by itself.
    await rm(filler);
    assertQemuOk(await qemuIo(ex.url, ['write -P 0xb4 8M 16M', 'read -P 0xb4 8M 16M', 'flush']), 'writes resume');
    await waitFor('condition ok', async () => ((await ok<PoolDoc>(api, 'GET', '/v1/pools/hf')).condition === 'ok' ? true : undefined), 30_000, 200);
    assert.ok(await metric(api, 'berth_pool_condition{pool="hf",condition="ok"} 1'));
    assert.equal(countLines(engine, 'pool can allocate again'), 1);
    assert.equal(countLines(engine, 'pool host filesystem is full'), 1);

    // With room, a thick pool and a thick volume take their blocks at create.
    const tp = await ok<PoolDoc & { capacityBytes: number }>(api, 'POST', '/v1/pools', { name: 'tp', sizeBytes: 4 * MiB, thick: true });
    assert.ok(tp.backedBytes! >= 4 * MiB, `thick pool backed (${tp.backedBytes})`);
    await ok(api, 'DELETE', '/v1/pools/tp');
    const beforeFat = (await ok<PoolDoc>(api, 'GET', '/v1/pools/hf')).backedBytes!;
    await ok(api, 'POST', '/v1/pools/hf/volumes', { name: 'fat', sizeBytes: 4 * MiB, thin: false });
    assert.ok((await ok<PoolDoc>(api, 'GET', '/v1/pools/hf')).backedBytes! >= beforeFat + 4 * MiB, 'thick volume backed');

    // Full again, then the engine dies (kill -9): the pool imports and says why it cannot grow.
    await fill(filler, Infinity);
    { const r = await qemuIo(ex.url, ['write -P 0xb5 40M 8M']); assert.match(r.stdout + r.stderr, NOSPC); }
    await engine.restart({ hard: true });
    const back = await ok<PoolDoc>(engine.api, 'GET', '/v1/pools/hf');
    assert.equal(back.state, 'online', JSON.stringify(back));
    assert.equal(back.condition, 'hostFull');
    const after = (await ok<{ url: string }>(engine.api, 'GET', '/v1/exports/hf/v')).url;
    assertQemuOk(await qemuIo(after, ['read -P 0xa3 0 4M', 'read -P 0xb4 8M 16M']), 'data intact after import on a full host');
    await rm(filler);
    assertQemuOk(await qemuIo(after, ['write -P 0xb6 40M 8M', 'read -P 0xb6 40M 8M']), 'writes resume after import');
    await waitFor('condition ok after import', async () => ((await ok<PoolDoc>(engine!.api, 'GET', '/v1/pools/hf')).condition === 'ok' ? true : undefined), 30_000, 200);
  } finally {
    await engine?.stop();
    await run('umount', [fsDir], { check: false });
    await rm(dataDir, { recursive: true, force: true });
  }
});
