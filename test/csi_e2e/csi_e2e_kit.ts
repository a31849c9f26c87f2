/**
 * Shared pieces of the CSI end-to-end suites: the real processes (control plane on
 * SQLite, an engine registered by heartbeat, the CSI plugin with user-space attach),
 * what a run may leave behind (mounts, loop devices, storage daemons under the test's
 * directory), and the orchestrator's stage/publish steps over the plugin's socket.
 */
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMountInfo } from '../../src/csi/mount_info.ts';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { run } from '../helpers/tools.ts';
import { startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { INITIATOR, nodeOnline, registeredEngine } from '../control_plane/cp_kit.ts';
import { startCsiPlugin, type CsiProcess } from './csi_process.ts';

export interface Leftovers {
  mounts: string[];
  loops: string[];
  processes: string[];
}

export const NOTHING_LEFT: Leftovers = { mounts: [], loops: [], processes: [] };

export async function poolFree(engine: EngineProcess, pool: string): Promise<number> {
  const res = await fetch(`${engine.api}/v1/pools/${pool}`);
  return ((await res.json()) as { freeBytes: number }).freeBytes;
}

/** Snapshot names on an engine's pool (the engine's own API). */
export async function engineSnapshots(engine: EngineProcess, pool: string): Promise<string[]> {
  const res = await fetch(`${engine.api}/v1/pools/${pool}/snapshots`);
  return ((await res.json()) as { snapshots: { name: string }[] }).snapshots.map((s) => s.name);
}

/** Mount points, loop devices and processes that mention the test's directory. */
export async function leftovers(dir: string): Promise<Leftovers> {
  const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).map((m) => m.mountPoint).filter((p) => p.startsWith(dir + '/'));
  const loops = (await run('losetup', ['-l', '-n', '-O', 'NAME,BACK-FILE'], { check: false })).stdout
    .split('\n')
    .filter((l) => l.includes(dir + '/'))
    .map((l) => l.trim());
  const processes: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('qemu-storage-daemon') && cmd.includes(dir)) processes.push(`${pid} ${cmd.replaceAll('\0', ' ').slice(0, 120)}`);
  }
  return { mounts, loops, processes };
}

/** Whatever a failed run left: mounts under the dir (deepest first), loops, daemons, then the daemons' FUSE files. */
export async function clearLeftovers(dir: string): Promise<void> {
  const left = await leftovers(dir).catch(() => NOTHING_LEFT);
  for (const m of left.mounts.filter((p) => !p.endsWith('lun.img')).sort((a, b) => b.length - a.length)) await run('umount', ['-l', m], { check: false });
  for (const l of left.loops) await run('losetup', ['-d', l.split(/\s+/)[0]], { check: false });
  for (const p of left.processes) process.kill(Number(p.split(' ')[0]), 'SIGKILL');
  for (const m of left.mounts.filter((p) => p.endsWith('lun.img'))) await run('umount', ['-l', m], { check: false });
}

export interface E2eEnv {
  dir: string;
  plane: ControlPlaneProcess;
  engine: EngineProcess;
  csi: CsiProcess;
  stop(): Promise<void>;
}

/** Control plane, one engine on `nodeId` (online), and the CSI plugin in `all` mode with user-space attach. */
export async function startE2eEnv(prefix: string, nodeId: string, extraCsiArgs: string[] = []): Promise<E2eEnv> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  let plane: ControlPlaneProcess | undefined;
  let engine: EngineProcess | undefined;
  let csi: CsiProcess | undefined;
  const stop = async (): Promise<void> => {
    await csi?.stop();
    await clearLeftovers(dir);
    await engine?.stop();
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}` });
    engine = await registeredEngine([plane.url], nodeId);
    await nodeOnline(plane.url, nodeId);
    csi = await startCsiPlugin(join(dir, 'csi.sock'), [
      '--mode', 'all', '--node-id', nodeId, '--state-dir', join(dir, 'state'), '--attacher', 'userspace',
      '--initiator-name', INITIATOR, '--control-plane', plane.url, ...extraCsiArgs,
    ]);
    return { dir, plane, engine, csi, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The kubelet's directories for a volume mounted by one pod. */
export async function kubeletPaths(dir: string, pvName: string, podUid: string): Promise<{ staging: string; target: string }> {
  const staging = join(dir, 'kubelet', 'staging', pvName);
  const podVolumes = join(dir, 'kubelet', 'pods', podUid, 'volumes', 'kubernetes.io~csi', pvName);
  await mkdir(staging, { recursive: true });
  await mkdir(podVolumes, { recursive: true });
  return { staging, target: join(podVolumes, 'mount') };
}
