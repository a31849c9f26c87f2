/**
 * A real filesystem on an exported volume without a kernel initiator: qemu-storage-daemon
 * logs in over iSCSI and exposes the LUN as a file through FUSE, losetup makes it a block
 * device, and ext4 is made, mounted, written, synced, unmounted, then checked with e2fsck
 * and mounted again through a new iSCSI session (test/helpers/ext4.ts: an unmount is waited
 * out). Loop devices, mounts and daemons are removed in `finally`, pass or fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEngine } from '../helpers/engine_process.ts';
import { run, waitFor } from '../helpers/tools.ts';
import { checkedExt4, mountChecked, unmountExt4 } from '../helpers/ext4.ts';
import { initiatorName, ok, provision, withTmp, MiB, type ExportDoc } from './engine_kit.ts';

const VOLUME_BYTES = 256 * MiB;

interface Attached {
  daemon: ChildProcess;
  exited: Promise<void>;
  loop?: string;
}

/** qemu-storage-daemon with a FUSE export of the LUN on `image`, then a loop device on it. */
async function attach(ex: ExportDoc, image: string, tag: string, attached: Attached[]): Promise<Attached> {
  const daemon = spawn('qemu-storage-daemon', [
    '--blockdev',
    `driver=iscsi,node-name=lun,transport=tcp,portal=${ex.portal},target=${ex.targetIqn},lun=${ex.lun},initiator-name=${initiatorName(tag)}`,
    '--export', `type=fuse,id=fuse,node-name=lun,mountpoint=${image},writable=on`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  daemon.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const exited = new Promise<void>((r) => daemon.once('exit', () => r()));
  const a: Attached = { daemon, exited };
  attached.push(a);
  await waitFor(`FUSE export of ${image}\n${stderr}`, async () => {
    if (daemon.exitCode !== null) throw new Error(`qemu-storage-daemon exited: ${stderr}`);
    return (await stat(image)).size === VOLUME_BYTES ? true : undefined;
  }, 20_000, 100);
  // Buffered I/O on the loop device: qemu 7.2's FUSE export mishandles parallel O_DIRECT writes.
  a.loop = (await run('losetup', ['-f', '--show', '--direct-io=off', image])).stdout.trim();
  return a;
}

async function detach(a: Attached): Promise<void> {
  if (a.loop) {
    await run('losetup', ['-d', a.loop], { check: false });
    a.loop = undefined;
  }
  if (a.daemon.exitCode === null && a.daemon.signalCode === null) {
    a.daemon.kill('SIGTERM');
    const timer = setTimeout(() => a.daemon.kill('SIGKILL'), 10_000);
    await a.exited;
    clearTimeout(timer);
  }
}

test('ext4 made, written, remounted through a new session and fsck-clean', { timeout: 300_000 }, () => withTmp('fs', async (dir) => {
  const engine = await startEngine();
  const attached: Attached[] = [];
  const mnt = join(dir, 'mnt');
  let mounted = false;
  try {
    const ex = (await provision(engine.api, { pool: 'fs', poolBytes: VOLUME_BYTES * 2, volume: 'ext4', volumeBytes: VOLUME_BYTES }))!;
    const image = join(dir, 'lun.img');
    await writeFile(image, '');
    await mkdir(mnt);

    const first = await attach(ex, image, 'fs-first', attached);
    // The logged-in session shows in the API and in the metrics.
    const targets = await ok<{ targets: { iqn: string; sessions: { initiatorName: string }[] }[] }>(engine.api, 'GET', '/v1/targets');
    assert.deepEqual(targets.targets.find((t) => t.iqn === ex.targetIqn)?.sessions.map((s) => s.initiatorName), [initiatorName('fs-first')]);
    const metrics = await (await fetch(new URL('/metrics', engine.api))).text();
    assert.match(metrics, new RegExp(`^berth_iscsi_sessions\\{target="${ex.targetIqn.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
    await run('mkfs.ext4', ['-q', '-F', first.loop!], { timeoutMs: 120_000 });
    await run('mount', [first.loop!, mnt]);
    mounted = true;
    const payload = randomBytes(8 * MiB);
    const digest = createHash('sha256').update(payload).digest('hex');
    await mkdir(join(mnt, 'dir'));
    await writeFile(join(mnt, 'dir', 'payload.bin'), payload);
    await writeFile(join(mnt, 'hello.txt'), 'berth\n');
    await run('sync', []);
    const unmounted = await unmountExt4(mnt, first.loop!);
    mounted = false;
    await detach(first);

    // Through a new session: checked, then mounted read-only (from a journal-replayed copy
    // read through it, should a foreign mount namespace still hold the first mount).
    const second = await attach(ex, image, 'fs-second', attached);
    const checked = await checkedExt4(second.loop!, unmounted, dir);
    await mountChecked(checked, mnt);
    mounted = true;
    assert.equal(await readFile(join(mnt, 'hello.txt'), 'utf8'), 'berth\n');
    assert.equal(createHash('sha256').update(await readFile(join(mnt, 'dir', 'payload.bin'))).digest('hex'), digest);
    await run('umount', [mnt]);
    mounted = false;
  } finally {
    if (mounted) await run('umount', ['-l', mnt], { check: false });
    for (const a of attached) await detach(a);
    await engine.stop();
  }
}));
