/**
 * The block devices the pgbench section puts ext4 on, each ending in a mounted directory:
 * - an iSCSI LUN through the node plugin's own user-space attach path
 *   (src/csi/user_space_attacher.ts: qemu-storage-daemon → FUSE export → loop);
 * - the same path with a raw local file behind qemu-storage-daemon instead of iSCSI
 *   (the same attacher class, only its --blockdev swapped);
 * - the engine's local attach: the export served over FUSE by the engine itself, loop;
 * - a local file on a loop device.
 */
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttachRequest } from '../src/csi/attacher.ts';
import { HostCommandRunner, runChecked } from '../src/csi/node_exec.ts';
import { UserSpaceAttacher } from '../src/csi/user_space_attacher.ts';
import { run } from '../test/helpers/tools.ts';

const runner = new HostCommandRunner();
const INITIATOR = 'iqn.2024-01.io.berth:bench-pgbench';

export interface Mounted {
  /** The ext4 mount point (owned by the postgres user). */
  dir: string;
  /** The loop device under it. */
  device: string;
  unmount(): Promise<void>;
}

/** UserSpaceAttacher with a local file in place of the iSCSI LUN: same daemon, export and loop. */
class RawFileAttacher extends UserSpaceAttacher {
  readonly #file: string;
  constructor(stateDir: string, file: string) {
    super({ runner, stateDir, initiatorName: INITIATOR });
    this.#file = file;
  }
  override daemonArgs(req: AttachRequest): string[] {
    const args = super.daemonArgs(req);
    const i = args.indexOf('--blockdev');
    const node = /(?:^|,)node-name=([^,]+)/.exec(args[i + 1])?.[1];
    if (i < 0 || !node) throw new Error('UserSpaceAttacher.daemonArgs has no --blockdev with a node-name');
    args[i + 1] = `driver=file,node-name=${node},filename=${this.#file.replaceAll(',', ',,')}`;
    return args;
  }
}

/** `iscsi://host:port/iqn/lun` → the attacher's address. */
export function parseIscsiUrl(url: string): { portal: string; iqn: string; lun: number } {
  const m = /^iscsi:\/\/([^/]+)\/([^/]+)\/(\d+)$/.exec(url);
  if (!m) throw new Error(`not an iscsi:// URL: ${url}`);
  return { portal: m[1], iqn: m[2], lun: Number(m[3]) };
}

async function postgresOwns(dir: string): Promise<void> {
  const id = async (flag: string): Promise<number> => Number((await run('id', [flag, 'postgres'])).stdout.trim());
  await chown(dir, await id('-u'), await id('-g'));
}

/** The storage daemon's pid from the attach handle's pid file ([] if unreadable). */
async function daemonPids(handle: Record<string, string>): Promise<number[]> {
  const text = handle.pidFile ? await readFile(handle.pidFile, 'utf8').catch(() => '') : '';
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 ? [pid] : [];
}

/** A block device attached for a bench, not yet formatted. */
export interface Attached {
  device: string;
  /** The processes serving the device (the qemu-storage-daemon; none for a plain loop). */
  pids: number[];
  detach(): Promise<void>;
}

/** mkfs.ext4 on an attached device and mount it on a fresh directory under `scratch`; unmount() also detaches. */
export async function mountExt4(att: Attached, scratch: string): Promise<Mounted> {
  const dir = await mkdtemp(join(scratch, 'mnt-'));
  let mounted = false;
  try {
    await run('mkfs.ext4', ['-q', '-F', att.device], { timeoutMs: 300_000 });
    await run('mount', ['-t', 'ext4', att.device, dir]);
    mounted = true;
    await postgresOwns(dir);
  } catch (err) {
    if (mounted) await run('umount', [dir], { check: false });
    await rm(dir, { recursive: true, force: true });
    await att.detach();
    throw err;
  }
  return {
    dir,
    device: att.device,
    async unmount() {
      await run('umount', [dir], { check: false, timeoutMs: 120_000 });
      await rm(dir, { recursive: true, force: true });
      await att.detach();
    },
  };
}

/** A LUN through the node plugin's user-space attach path. `name` must be unique per run. */
export async function attachIscsi(url: string, scratch: string, name: string): Promise<Attached> {
  const stateDir = join(scratch, `state-${name}`);
  await mkdir(stateDir, { recursive: true });
  const attacher = new UserSpaceAttacher({ runner, stateDir, initiatorName: INITIATOR });
  const dev = await attacher.attach({ volumeId: name, ...parseIscsiUrl(url) });
  return { device: dev.devicePath, pids: await daemonPids(dev.handle), detach: () => attacher.detach(name) };
}

/**
 * The engine's own local attach (docs/local-attach.md): the export served over FUSE by
 * the engine, a loop device on its file. `api` is the engine's; it was started with
 * --local-attach-dir.
 */
export async function attachLocalFuse(api: string, pool: string, volume: string): Promise<Attached> {
  const url = `${api}/v1/exports/${pool}/${volume}/local-attach`;
  const res = await fetch(url, { method: 'POST' });
  const body = await res.json() as { path?: string; error?: { message: string } };
  if (res.status !== 201 || !body.path) throw new Error(`local attach of ${pool}/${volume}: ${res.status} ${body.error?.message ?? ''}`);
  const loop = (await runChecked(runner, 'losetup', ['-f', '--show', '--direct-io=off', body.path])).stdout.trim();
  return {
    device: loop,
    pids: [],
    async detach() {
      await run('losetup', ['-d', loop], { check: false });
      await fetch(url, { method: 'DELETE' });
    },
  };
}

/** A sparse local file of `sizeBytes` behind qemu-storage-daemon, FUSE export and loop. */
export async function attachRawFileQsd(scratch: string, name: string, sizeBytes: number): Promise<Attached> {
  const file = join(scratch, `${name}.img`);
  await run('truncate', ['-s', String(sizeBytes), file]);
  const stateDir = join(scratch, `state-${name}`);
  await mkdir(stateDir, { recursive: true });
  const attacher = new RawFileAttacher(stateDir, file);
  // The address is unused by the file blockdev; the attacher only needs its shape.
  const dev = await attacher.attach({ volumeId: name, portal: '127.0.0.1:1', iqn: 'iqn.2024-01.io.berth:unused', lun: 0 });
  return {
    device: dev.devicePath,
    pids: await daemonPids(dev.handle),
    async detach() {
      await attacher.detach(name);
      await rm(file, { force: true });
    },
  };
}

/** A sparse local file on a loop device (buffered, as the attach path's loop is). */
export async function attachLocalLoop(scratch: string, name: string, sizeBytes: number): Promise<Attached> {
  const file = join(scratch, `${name}.img`);
  await run('truncate', ['-s', String(sizeBytes), file]);
  const loop = (await runChecked(runner, 'losetup', ['-f', '--show', '--direct-io=off', file])).stdout.trim();
  return {
    device: loop,
    pids: [],
    async detach() {
      await run('losetup', ['-d', loop], { check: false });
      await rm(file, { force: true });
    },
  };
}

/** A LUN through the user-space attach path, formatted and mounted. */
export async function mountIscsi(url: string, scratch: string, name: string): Promise<Mounted> {
  return mountExt4(await attachIscsi(url, scratch, name), scratch);
}
