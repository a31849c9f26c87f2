/**
 * The FUSE keeper (src/engine/fuse_keeper.ts) against the real kernel: a local attach
 * with ext4 on it outlives a kill -9 of the engine worker. A write the dead worker had
 * read and not answered (held by the export's write pause, so it is surely in flight)
 * is sent again by the kernel (FUSE_NOTIFY_RESEND) to the next worker and lands; the
 * filesystem never sees an error. Spare descriptors run out, and a new worker tops
 * them up. Loop devices, mounts and engines are removed in `finally`, pass or fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { freePort, pidAlive, run, waitFor } from '../helpers/tools.ts';
import { call, ok, provision, refused, withTmp, MiB } from './engine_kit.ts';
import { checkedExt4, mountChecked, unmountExt4 } from '../helpers/ext4.ts';

const VOLUME_BYTES = 128 * MiB;

interface Attach { path: string; kept: boolean; resent: number; inFlight: number }
interface Cleanup { loops: string[]; mounts: string[]; engines: EngineProcess[] }

async function cleanUp(c: Cleanup): Promise<void> {
  for (const m of c.mounts.reverse()) await run('umount', [m], { check: false });
  for (const l of c.loops) await run('losetup', ['-d', l], { check: false });
  for (const e of c.engines) await e.stop().catch(() => undefined);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The keeper's one child: the engine worker. */
async function workerOf(keeperPid: number): Promise<number> {
  return waitFor('the engine worker', async () => {
    const kids = (await readFile(`/proc/${keeperPid}/task/${keeperPid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.length === 1 ? kids[0] : undefined;
  }, 30_000);
}

/** Kills the worker with SIGKILL and waits for the keeper's next worker to answer. */
async function killWorker(engine: EngineProcess): Promise<void> {
  const dead = await workerOf(engine.pid);
  process.kill(dead, 'SIGKILL');
  await waitFor('the worker to die', () => (pidAlive(dead) ? undefined : true), 30_000);
  await waitFor('the next worker', async () => {
    const w = await workerOf(engine.pid);
    if (w === dead) return undefined;
    const r = await call(engine.api, 'GET', '/v1/local-attaches').catch(() => undefined);
    return r?.status === 200 ? true : undefined;
  }, 120_000, 200).catch((err: Error) => { throw new Error(`${err.message}\n${engine.diagnostics()}`); });
}

/** Fixed ports: a worker the keeper starts again is started with the same flags, and port 0 would pick new ones. */
async function keeperEngine(dir: string, extra: string[] = []): Promise<EngineProcess> {
  return startEngine({
    args: ['--api-listen', `127.0.0.1:${await freePort()}`, '--iscsi-listen', `127.0.0.1:${await freePort()}`, '--local-attach-dir', join(dir, 'attach'), ...extra],
  });
}

async function attaches(api: string): Promise<Attach[]> {
  return (await ok<{ localAttaches: Attach[] }>(api, 'GET', '/v1/local-attaches')).localAttaches;
}

test('kill -9 of the engine worker: the local attach stays mounted, a write in flight is sent again, ext4 stays clean', { timeout: 300_000 }, () => withTmp('la-keep', async (dir) => {
  const c: Cleanup = { loops: [], mounts: [], engines: [] };
  try {
    const engine = await keeperEngine(dir);
    c.engines.push(engine);
    await provision(engine.api, { pool: 'lk', poolBytes: VOLUME_BYTES * 2, volume: 'v', volumeBytes: VOLUME_BYTES });
    const la = await ok<Attach>(engine.api, 'POST', '/v1/exports/lk/v/local-attach', undefined, 201);
    assert.equal(la.kept, true, 'under the keeper every attach is kept');
    const loop = (await run('losetup', ['-f', '--show', '--direct-io=off', la.path])).stdout.trim();
    c.loops.push(loop);
    await run('mkfs.ext4', ['-q', '-F', loop], { timeoutMs: 120_000 });
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    await run('mount', [loop, mnt]);
    c.mounts.push(mnt);
    const before = randomBytes(8 * MiB);
    await writeFile(join(mnt, 'before'), before);
    await run('sync', ['-f', join(mnt, 'before')]);

    // Hold the export's writes, so the next write is read by this worker and not answered;
    // kill the worker while it is. The pause's lease (10 s at most) could end first on a
    // machine slow beyond reason, and the write would not be in flight: then try again.
    const written: { name: string; data: Buffer }[] = [];
    let resent = 0;
    for (let attempt = 1; attempt <= 3 && resent === 0; attempt++) {
      const name = `after-${attempt}`;
      const data = randomBytes(4 * MiB);
      const src = join(dir, `${name}.src`);
      await writeFile(src, data);
      await ok(engine.api, 'POST', '/v1/exports/lk/v/pause', { token: `keeper-test-${attempt}`, leaseMs: 10_000 }, 200);
      const writer = run('dd', [`if=${src}`, `of=${join(mnt, name)}`, 'bs=1M', 'oflag=direct', 'conv=fsync', 'status=none'], { check: false, timeoutMs: 240_000 });
      await waitFor('a write held in the worker', async () => ((await attaches(engine.api))[0]?.inFlight ?? 0) > 0 ? true : undefined, 60_000);
      await killWorker(engine);
      const wrote = await writer;
      assert.equal(wrote.code, 0, `the write held at the kill completes on the next worker: ${wrote.stderr}`);
      written.push({ name, data });
      const [now] = await attaches(engine.api);
      assert.equal(now?.path, la.path);
      assert.equal(now?.kept, true);
      resent = now?.resent ?? 0;
    }
    assert.ok(resent >= 1, 'the kernel sent the held requests again to the next worker');

    // Read back past every cache: the FUSE file copied with O_DIRECT reads (each one answered
    // by the worker), checked, and mounted read-only.
    const unmounted = await unmountExt4(mnt, loop);
    c.mounts.pop();
    await run('losetup', ['-d', loop]);
    c.loops.pop();
    const image = await checkedExt4(la.path, unmounted, dir);
    await mountChecked(image, mnt);
    c.mounts.push(mnt);
    assert.equal(sha(await readFile(join(mnt, 'before'))), sha(before));
    for (const w of written) assert.equal(sha(await readFile(join(mnt, w.name))), sha(w.data), w.name);
    await run('umount', [mnt]);
    c.mounts.pop();
    await ok(engine.api, 'DELETE', '/v1/exports/lk/v/local-attach', undefined, 204);
    // This attach only: other suites and engines on the machine may mount fuse.berth files.
    assert.ok(!(await readFile('/proc/mounts', 'utf8')).includes(` ${la.path} fuse.berth `), 'the attach is unmounted');
  } finally {
    await cleanUp(c);
  }
}));

test('spare descriptors run out (LOCAL_ATTACH_EXHAUSTED, 503) and the next worker tops them up', { timeout: 180_000 }, () => withTmp('la-spares', async (dir) => {
  const c: Cleanup = { loops: [], mounts: [], engines: [] };
  try {
    const engine = await keeperEngine(dir, ['--local-attach-spares', '1']);
    c.engines.push(engine);
    await provision(engine.api, { pool: 'ls', poolBytes: VOLUME_BYTES * 3, volume: 'a', volumeBytes: VOLUME_BYTES });
    await provision(engine.api, { pool: 'ls', createPool: false, volume: 'b', volumeBytes: VOLUME_BYTES });
    await ok(engine.api, 'POST', '/v1/exports/ls/a/local-attach', undefined, 201);
    await refused(engine.api, 'POST', '/v1/exports/ls/b/local-attach', undefined, 503, 'LOCAL_ATTACH_EXHAUSTED');
    // A descriptor serves one mount in its life: detaching does not give it back.
    await ok(engine.api, 'DELETE', '/v1/exports/ls/a/local-attach', undefined, 204);
    await refused(engine.api, 'POST', '/v1/exports/ls/a/local-attach', undefined, 503, 'LOCAL_ATTACH_EXHAUSTED');
    await killWorker(engine);
    const b = await ok<Attach>(engine.api, 'POST', '/v1/exports/ls/b/local-attach', undefined, 201);
    assert.equal(b.kept, true);
    await ok(engine.api, 'DELETE', '/v1/exports/ls/b/local-attach', undefined, 204);
  } finally {
    await cleanUp(c);
  }
}));
