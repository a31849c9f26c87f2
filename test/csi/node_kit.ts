/**
 * Starts the CSI Identity + Node services on a real unix socket with LocalFileAttacher
 * (test-only: a loop device on a sparse file stands in for the iSCSI LUN). Everything
 * lives under one temp dir; cleanup() unmounts whatever is mounted below it, detaches
 * the loops on its files and removes the dir, pass or fail.
 */
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityHandlers } from '../../src/csi/identity.ts';
import { parseMountInfo } from '../../src/csi/mount_info.ts';
import { createNodeService } from '../../src/csi/node.ts';
import { HostCommandRunner } from '../../src/csi/node_exec.ts';
import { CsiServer } from '../../src/csi/server.ts';
import { silentLogger } from '../../src/util/log.ts';
import { CsiClient } from './csi_client.ts';
import { LocalFileAttacher } from './local_file_attacher.ts';

export const MiB = 2 ** 20;

export interface NodeKit {
  dir: string;
  stateDir: string;
  attacher: LocalFileAttacher;
  client: CsiClient;
  server: CsiServer;
  /** Makes a sparse backing file for a volume id and returns its path. */
  addVolume(volumeId: string, bytes: number): Promise<string>;
  /** Stops the server and starts a new node plugin on the same state dir. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

const runner = new HostCommandRunner();

export async function startNode(): Promise<NodeKit> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-csi-node-'));
  const stateDir = join(dir, 'state');
  const socketPath = join(dir, 'csi.sock');
  const attacher = new LocalFileAttacher(runner);
  const files: string[] = [];
  const log = silentLogger();

  const boot = async () => {
    const node = await createNodeService({ nodeId: 'node-test', stateDir, attacher, runner, topology: { 'topology.berth.io/zone': 'a' }, maxVolumes: 8, log });
    const server = new CsiServer({ endpoint: socketPath, identity: identityHandlers({ controller: false, ready: async () => true }), node: node.handlers, log });
    await server.start();
    return { server, client: new CsiClient(socketPath) };
  };

  const kit: NodeKit = {
    dir,
    stateDir,
    attacher,
    ...(await boot()),
    async addVolume(volumeId, bytes) {
      const file = join(dir, 'files', `${volumeId}.img`);
      await mkdir(join(dir, 'files'), { recursive: true });
      await writeFile(file, '');
      await truncate(file, bytes);
      files.push(file);
      attacher.addVolume(volumeId, file);
      return file;
    },
    async restart() {
      kit.client.close();
      await kit.server.stop(1000);
      Object.assign(kit, await boot());
    },
    async cleanup() {
      kit.client.close();
      await kit.server.stop(1000).catch(() => undefined);
      const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'))
        .map((m) => m.mountPoint)
        .filter((p) => p.startsWith(dir + '/'))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) {
        const r = await runner.run('umount', [m]);
        if (r.code !== 0) await runner.run('umount', ['-l', m]);
      }
      for (const f of files) {
        const loop = await attacher.loopOf(f);
        if (loop) {
          await runner.run('blockdev', ['--setrw', loop]);
          await runner.run('losetup', ['-d', loop]);
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return kit;
}

export function publishContext(volumeId: string): Record<string, string> {
  return { targetPortal: '127.0.0.1:3260', targetIqn: `iqn.2025-01.io.berth.test:${volumeId}`, lun: '0' };
}

export const mountCap = (fs_type = 'ext4', mode = 'SINGLE_NODE_WRITER', mount_flags: string[] = []) => ({ mount: { fs_type, mount_flags }, access_mode: { mode } });
export const blockCap = (mode = 'SINGLE_NODE_WRITER') => ({ block: {}, access_mode: { mode } });

export function stageReq(kit: NodeKit, volumeId: string, cap: object, over: Record<string, unknown> = {}) {
  return { volume_id: volumeId, staging_target_path: join(kit.dir, 'staging', volumeId), publish_context: publishContext(volumeId), volume_capability: cap, ...over };
}

/** The CO creates the staging dir and the target's parent; the plugin creates the target. */
export async function coPaths(kit: NodeKit, volumeId: string): Promise<{ staging: string; pods: string }> {
  const staging = join(kit.dir, 'staging', volumeId);
  const pods = join(kit.dir, 'pods');
  await mkdir(staging, { recursive: true });
  await mkdir(pods, { recursive: true });
  return { staging, pods };
}
