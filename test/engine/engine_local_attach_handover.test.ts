/**
 * An upgrade of the engine without ending its local attaches, against the real kernel:
 * the FUSE keeper runs its worker from `--worker-code` (a symlink here, switched between
 * two trees, as an installer does) and hands over to a worker from the new tree when the
 * symlink changes; SIGHUP hands over to a fresh worker of the same tree.
 * ext4 on a local attach is written with fsync throughout; no write may fail, the mount
 * must be the same one, and the filesystem must check clean. A tree whose worker cannot
 * start is rolled back to the last good one, still without an error above. Mounts, loop
 * devices and engines are removed in `finally`, pass or fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, realpath, rename, symlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { freePort, repoRoot, run, waitFor } from '../helpers/tools.ts';
import { ok, provision, withTmp, MiB } from './engine_kit.ts';
import { checkedExt4, mountChecked, unmountExt4 } from '../helpers/ext4.ts';

const VOLUME_BYTES = 128 * MiB;

interface Attach { path: string; kept: boolean; resent: number }

/** A tree the keeper can start a worker from: the repository's own files, under another name. */
async function codeTree(dir: string): Promise<string> {
  await mkdir(dir);
  for (const name of await readdir(repoRoot)) {
    if (name === '.git' || name === '.build') continue;
    await symlink(join(repoRoot, name), join(dir, name));
  }
  return realpath(dir);
}

/** A tree whose worker stops at once with status 3: an upgrade that cannot start. */
async function brokenTree(dir: string): Promise<string> {
  await mkdir(join(dir, 'src', 'engine'), { recursive: true });
  await symlink(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  await writeFile(join(dir, 'src', 'engine', 'main.ts'), 'process.exit(3);\n');
  return realpath(dir);
}

/** Points `link` at `target` atomically (a rename over it), as an upgrade would. */
async function switchLink(link: string, target: string): Promise<void> {
  const tmp = `${link}.new`;
  await symlink(target, tmp);
  await rename(tmp, link);
}

async function workerOf(keeperPid: number): Promise<{ pid: number; cmdline: string } | undefined> {
  const kids = (await readFile(`/proc/${keeperPid}/task/${keeperPid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
  if (kids.length !== 1) return undefined;
  const cmdline = (await readFile(`/proc/${kids[0]}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
  return { pid: kids[0]!, cmdline };
}

/** Resolves once a worker other than `before`, started from `tree`, answers the API. */
async function nextWorker(engine: EngineProcess, before: number, tree: string): Promise<number> {
  return waitFor(`a worker from ${tree}`, async () => {
    const w = await workerOf(engine.pid);
    if (!w || w.pid === before || !w.cmdline.includes(`${tree}/src/engine/main.ts`)) return undefined;
    const r = await fetch(`${engine.api}/v1/local-attaches`).catch(() => undefined);
    return r?.status === 200 ? w.pid : undefined;
  }, 120_000, 100).catch((err: Error) => { throw new Error(`${err.message}\n${engine.diagnostics()}`); });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('the engine is handed over to new code (symlink switched) and to itself (SIGHUP): the local attach stays mounted, fsynced writes never fail, a tree that cannot start is rolled back', { timeout: 400_000 }, () => withTmp('la-handover', async (dir) => {
  const loops: string[] = [];
  const mounts: string[] = [];
  let engine: EngineProcess | undefined;
  let writer: ReturnType<typeof spawn> | undefined;
  try {
    const treeA = await codeTree(join(dir, 'code-a'));
    const treeB = await codeTree(join(dir, 'code-b'));
    const broken = await brokenTree(join(dir, 'code-broken'));
    const current = join(dir, 'current');
    await symlink(treeA, current);
    engine = await startEngine({
      args: ['--api-listen', `127.0.0.1:${await freePort()}`, '--iscsi-listen', `127.0.0.1:${await freePort()}`,
        '--local-attach-dir', join(dir, 'attach'), '--local-attach-spares', '4', '--worker-code', current],
    });
    const first = await waitFor('the first worker', () => workerOf(engine!.pid), 30_000);
    assert.match(first.cmdline, new RegExp(`${treeA}/src/engine/main\\.ts`), 'the worker runs from the code directory');

    await provision(engine.api, { pool: 'lh', poolBytes: VOLUME_BYTES * 2, volume: 'v', volumeBytes: VOLUME_BYTES });
    const la = await ok<Attach>(engine.api, 'POST', '/v1/exports/lh/v/local-attach', undefined, 201);
    const loop = (await run('losetup', ['-f', '--show', '--direct-io=off', la.path])).stdout.trim();
    loops.push(loop);
    await run('mkfs.ext4', ['-q', '-F', loop], { timeoutMs: 120_000 });
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    await run('mount', [loop, mnt]);
    mounts.push(mnt);
    const before = randomBytes(4 * MiB);
    await writeFile(join(mnt, 'before'), before);
    await run('sync', ['-f', join(mnt, 'before')]);

    // 64 KiB fsynced writes in a loop until told to stop; each line says how one went.
    const stop = join(dir, 'stop');
    const script = `i=0; while [ ! -e ${stop} ]; do if dd if=/dev/urandom of=${mnt}/w$((i % 32)) bs=64k count=1 conv=fsync status=none; then echo ok; else echo FAIL; fi; i=$((i+1)); done`;
    writer = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    writer.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    const finished = new Promise<number | null>((res) => writer!.on('close', res));
    const progressed = async (from: number): Promise<void> => {
      await waitFor('writes after the handover', () => (lines.length >= from + 20 ? true : undefined), 120_000, 50);
    };

    await progressed(0);
    const w1 = (await workerOf(engine.pid))!.pid;
    await switchLink(current, treeB);
    const w2 = await nextWorker(engine, w1, treeB);
    await progressed(lines.length);

    process.kill(engine.pid, 'SIGHUP');
    const w3 = await nextWorker(engine, w2, treeB);
    await progressed(lines.length);

    // An upgrade that cannot start: the keeper goes back to tree B, the attach never notices.
    await switchLink(current, broken);
    await waitFor('the keeper to try the broken tree and roll back', () => (engine!.diagnostics().includes('rolling back') ? true : undefined), 120_000, 100);
    await nextWorker(engine, w3, treeB);
    await progressed(lines.length);

    await writeFile(stop, '');
    assert.equal(await finished, 0);
    writer = undefined;
    assert.deepEqual(lines.filter((l) => l !== 'ok'), [], 'no fsynced write failed across the handovers');
    const [now] = (await ok<{ localAttaches: Attach[] }>(engine.api, 'GET', '/v1/local-attaches')).localAttaches;
    assert.equal(now?.path, la.path, 'the same file is attached');
    assert.equal(now?.kept, true);
    assert.match(await readFile('/proc/mounts', 'utf8'), new RegExp(`${loop} ${mnt} ext4`), 'the filesystem was never unmounted');

    // What the engine holds, past every cache: the FUSE file copied with O_DIRECT reads (each a
    // request to the worker), checked, and mounted read-only for the file written first.
    const unmounted = await unmountExt4(mnt, loop);
    mounts.pop();
    await run('losetup', ['-d', loop]);
    loops.pop();
    const image = await checkedExt4(la.path, unmounted, dir).catch((err: Error) => {
      throw new Error(`${err.message}\n${engine!.diagnostics()}`);
    });
    await mountChecked(image, mnt);
    mounts.push(mnt);
    assert.equal(sha(await readFile(join(mnt, 'before'))), sha(before));
  } finally {
    if (writer) {
      writer.kill('SIGKILL');
      await new Promise((res) => setTimeout(res, 100));
    }
    for (const m of mounts.reverse()) await run('umount', ['-l', m], { check: false });
    for (const l of loops) await run('losetup', ['-d', l], { check: false });
    await engine?.stop().catch(() => undefined);
  }
}));
