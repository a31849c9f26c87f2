/**
 * Local attach (docs/local-attach.md) against the real kernel: the engine mounts an
 * export's FUSE file, a loop device goes on it, ext4 is made and written; the same bytes
 * read back over iSCSI; the export replaced under the file; refusals while in use; and
 * after a kill -9 of the whole engine (its FUSE keeper, so the worker goes too) the
 * writes acknowledged by fsync are there when a restarted engine serves the file again.
 * A kill of the worker alone is engine_local_attach_keeper.test.ts.
 * Loop devices, mounts and engines are removed in `finally`, pass or fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { pidAlive, run, sleep, waitFor } from '../helpers/tools.ts';
import { assertQemuOk, berth, call, ok, provision, qemuIo, refused, withTmp, MiB } from './engine_kit.ts';
import { checkedExt4, mountChecked, unmountExt4 } from '../helpers/ext4.ts';

const VOLUME_BYTES = 128 * MiB;

interface Cleanup { loops: string[]; mounts: string[]; engines: EngineProcess[] }

async function cleanUp(c: Cleanup): Promise<void> {
  for (const m of c.mounts) await run('umount', [m], { check: false });
  for (const l of c.loops) await run('losetup', ['-d', l], { check: false });
  for (const e of c.engines) await e.stop().catch(() => undefined);
}

async function loopOn(file: string, c: Cleanup): Promise<string> {
  const loop = (await run('losetup', ['-f', '--show', '--direct-io=off', file])).stdout.trim();
  c.loops.push(loop);
  return loop;
}

async function detachLoop(loop: string, c: Cleanup): Promise<void> {
  await run('losetup', ['-d', loop]);
  c.loops.splice(c.loops.indexOf(loop), 1);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('local attach is off unless the engine is given a directory', { timeout: 60_000 }, () => withTmp('la-off', async () => {
  const engine = await startEngine();
  try {
    await provision(engine.api, { pool: 'lo', poolBytes: VOLUME_BYTES * 2, volume: 'v', volumeBytes: VOLUME_BYTES });
    await refused(engine.api, 'POST', '/v1/exports/lo/v/local-attach', undefined, 403, 'LOCAL_ATTACH_DISABLED');
  } finally {
    await engine.stop();
  }
}));

test('ext4 over a local attach: the bytes are the LUN\'s over iSCSI, in-use refusals, fsck clean', { timeout: 300_000 }, () => withTmp('la', async (dir) => {
  const c: Cleanup = { loops: [], mounts: [], engines: [] };
  try {
    const engine = await startEngine({ args: ['--local-attach-dir', join(dir, 'attach')] });
    c.engines.push(engine);
    const ex = (await provision(engine.api, { pool: 'la', poolBytes: VOLUME_BYTES * 2, volume: 'v', volumeBytes: VOLUME_BYTES }))!;
    await refused(engine.api, 'POST', '/v1/exports/la/nope/local-attach', undefined, 404, 'EXPORT_NOT_FOUND');
    // Through the CLI, as an operator would.
    const cli = await berth(engine.api, ['-o', 'json', 'local', 'attach', 'la/v']);
    assert.equal(cli.code, 0, cli.stderr);
    const la = JSON.parse(cli.stdout) as { path: string };
    assert.equal(la.path, join(dir, 'attach', 'la@v'));
    assert.match((await berth(engine.api, ['local', 'list'])).stdout, /│ la\/v +│ \S+la@v +│ - +│/);
    await refused(engine.api, 'POST', '/v1/exports/la/v/local-attach', undefined, 409, 'LOCAL_ATTACH_EXISTS');
    assert.match(await readFile('/proc/mounts', 'utf8'), new RegExp(`^berth:la/v ${la.path} fuse\\.berth `, 'm'));

    // What the file shows is the LUN: a pattern written over iSCSI reads back through FUSE, and the other way.
    assertQemuOk(await qemuIo(ex.url, ['write -P 0x5a 1M 64k', 'flush']), 'pattern over iSCSI');
    const fh = await open(la.path, 'r+');
    try {
      const seen = Buffer.alloc(64 * 1024);
      await fh.read(seen, 0, seen.length, MiB);
      assert.ok(seen.every((b) => b === 0x5a));
      await fh.write(Buffer.alloc(4096, 0xc3), 0, 4096, 2 * MiB + 100); // unaligned on purpose
      await fh.datasync();
      // Past the end is refused, as for a block device, and counted.
      await assert.rejects(fh.write(Buffer.alloc(512), 0, 512, VOLUME_BYTES), { code: 'EFBIG' });
    } finally {
      await fh.close();
    }
    assertQemuOk(await qemuIo(ex.url, ['read -P 0xc3 2097252 4096', 'read -P 0 2097152 100']), 'FUSE write over iSCSI');

    // The export replaced under the file (what a nexus's regrow does): a read waits, then the new export serves it.
    await ok(engine.api, 'DELETE', '/v1/exports/la/v', undefined, 204);
    const waiting = run('dd', [`if=${la.path}`, 'bs=64k', 'count=1', `skip=${MiB / (64 * 1024)}`, 'iflag=direct', 'status=none']);
    await sleep(300);
    await ok(engine.api, 'POST', '/v1/exports', { pool: 'la', volume: 'v', allowedInitiators: null }, 201);
    const served = await waiting;
    assert.equal(served.code, 0, served.stderr);
    assert.match(served.stdout, /^Z{65536}$/, 'the 0x5a pattern, through the new export');

    const metrics = (await call(engine.api, 'GET', '/metrics')).text;
    assert.match(metrics, /^berth_local_attaches 1$/m);
    assert.match(metrics, /^berth_local_attach_errors_total\{pool="la",volume="v",errno="27"\} 1$/m);

    const loop = await loopOn(la.path, c);
    await run('mkfs.ext4', ['-q', '-F', loop], { timeoutMs: 120_000 });
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    await run('mount', [loop, mnt]);
    c.mounts.push(mnt);
    const payload = randomBytes(8 * MiB);
    await writeFile(join(mnt, 'payload'), payload);
    await run('sync', []);
    await run('fstrim', [mnt]);
    const unmounted = await unmountExt4(mnt, loop);
    c.mounts.pop();
    await refused(engine.api, 'DELETE', '/v1/exports/la/v/local-attach', undefined, 409, 'LOCAL_ATTACH_IN_USE');
    const image = await checkedExt4(loop, unmounted, dir);
    await mountChecked(image, mnt);
    c.mounts.push(mnt);
    assert.equal(sha(await readFile(join(mnt, 'payload'))), sha(payload));
    await run('umount', [mnt]);
    c.mounts.pop();
    await detachLoop(loop, c);
    const gone = await berth(engine.api, ['local', 'detach', 'la/v']);
    assert.equal(gone.code, 0, gone.stderr);
    assert.deepEqual((await ok<{ localAttaches: unknown[] }>(engine.api, 'GET', '/v1/local-attaches')).localAttaches, []);
    // This attach only: other suites and engines on the machine may mount fuse.berth files.
    assert.ok(!(await readFile('/proc/mounts', 'utf8')).includes(` ${la.path} fuse.berth `), 'the attach is unmounted');
    await ok(engine.api, 'DELETE', '/v1/exports/la/v', undefined, 204);
  } finally {
    await cleanUp(c);
  }
}));

test('kill -9 of the engine: fsync-acknowledged writes are served again after a restart, at the same path', { timeout: 300_000 }, () => withTmp('la-kill', async (dir) => {
  const c: Cleanup = { loops: [], mounts: [], engines: [] };
  try {
    const engine = await startEngine({ args: ['--local-attach-dir', join(dir, 'attach')] });
    c.engines.push(engine);
    await provision(engine.api, { pool: 'lk', poolBytes: VOLUME_BYTES * 2, volume: 'v', volumeBytes: VOLUME_BYTES });
    const la = await ok<{ path: string }>(engine.api, 'POST', '/v1/exports/lk/v/local-attach', undefined, 201);
    const loop = await loopOn(la.path, c);
    const data = randomBytes(4 * MiB);
    const src = join(dir, 'data');
    await writeFile(src, data);
    // dd's fsync is the acknowledgement: everything before it returned must survive.
    await run('dd', [`if=${src}`, `of=${loop}`, 'bs=1M', 'seek=5', 'conv=fsync', 'status=none']);
    // The keeper (the engine's own process) is what dies: its worker follows it, and with both gone the connection ends.
    const worker = Number((await readFile(`/proc/${engine.pid}/task/${engine.pid}/children`, 'utf8')).trim());
    await engine.kill();
    await waitFor('the engine worker to follow its keeper', () => (pidAlive(worker) ? undefined : true), 30_000);
    // The kernel has lost the server: the file's I/O fails rather than hangs.
    const dead = await call(engine.api, 'GET', '/v1/local-attaches').catch(() => undefined);
    assert.equal(dead, undefined, 'the engine is gone');
    const r = await run('dd', [`if=${la.path}`, 'of=/dev/null', 'bs=4k', 'count=1', 'iflag=direct'], { check: false });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Transport endpoint is not connected|Input\/output error|No such device/);
    await detachLoop(loop, c);

    await engine.restart();
    const again = await ok<{ path: string }>(engine.api, 'POST', '/v1/exports/lk/v/local-attach', undefined, 201);
    assert.equal(again.path, la.path);
    const back = Buffer.alloc(data.length);
    const fh = await open(again.path, 'r');
    try {
      await fh.read(back, 0, back.length, 5 * MiB);
    } finally {
      await fh.close();
    }
    assert.equal(sha(back), sha(data));
    await ok(engine.api, 'DELETE', '/v1/exports/lk/v/local-attach', undefined, 204);
  } finally {
    await cleanUp(c);
  }
}));
