/**
 * The node plugin with --local-attach-engine against a real engine: a volume that engine
 * exports is staged through the engine's local attach (FUSE file, loop device, ext4, no
 * iSCSI session), published, unstaged with nothing left behind, and restaged with its
 * data; a volume the engine does not export (another portal) takes the user-space iSCSI
 * path. Mounts, loop devices, daemons and the engine are removed in `after`.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { identityHandlers } from '../../src/csi/identity.ts';
import { LocalFirstAttacher } from '../../src/csi/local_first_attacher.ts';
import { parseMountInfo } from '../../src/csi/mount_info.ts';
import { createNodeService } from '../../src/csi/node.ts';
import { HostCommandRunner } from '../../src/csi/node_exec.ts';
import { CsiServer } from '../../src/csi/server.ts';
import { UserSpaceAttacher } from '../../src/csi/user_space_attacher.ts';
import { silentLogger } from '../../src/util/log.ts';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { ok, provision } from '../engine/engine_kit.ts';
import { CsiClient } from './csi_client.ts';

const MiB = 2 ** 20;
const runner = new HostCommandRunner();

describe('CSI node: the engine\'s local attach first, the user-space iSCSI path otherwise', () => {
  let dir: string;
  let engine: EngineProcess;
  let other: EngineProcess;
  let server: CsiServer;
  let client: CsiClient;
  let inner: UserSpaceAttacher;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-csi-la-'));
    engine = await startEngine({ args: ['--local-attach-dir', join(dir, 'attach')] });
    other = await startEngine();
    inner = new UserSpaceAttacher({ runner, stateDir: join(dir, 'state'), initiatorName: 'iqn.2025-01.io.berth.test:node-la' });
    const attacher = new LocalFirstAttacher({ inner, runner, engineApi: engine.api });
    const node = await createNodeService({ nodeId: 'node-la', stateDir: join(dir, 'state'), attacher, runner, log: silentLogger() });
    server = new CsiServer({ endpoint: join(dir, 'csi.sock'), identity: identityHandlers({ controller: false, ready: async () => true }), node: node.handlers, log: silentLogger() });
    await server.start();
    client = new CsiClient(join(dir, 'csi.sock'));
  });

  after(async () => {
    client?.close();
    await server?.stop(1000).catch(() => undefined);
    const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).map((m) => m.mountPoint).filter((p) => p.startsWith(dir + '/')).sort((a, b) => b.length - a.length);
    for (const m of mounts.filter((p) => !p.includes('/attach/') && !p.endsWith('lun.img'))) await runner.run('umount', ['-l', m]);
    for (const f of [join(dir, 'attach', 'la@v'), join(dir, 'state', 'userspace', 'vol-remote', 'lun.img')]) {
      const loop = /^(\/dev\/loop\d+):/m.exec((await runner.run('losetup', ['-j', f])).stdout)?.[1];
      if (loop) await runner.run('losetup', ['-d', loop]);
    }
    await inner?.detach('vol-remote').catch(() => undefined);
    await engine?.stop();
    await other?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const cap = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
  const stageOf = (volumeId: string, ex: { portal: string; targetIqn: string; lun: number }, staging: string) => ({
    volume_id: volumeId, staging_target_path: staging, volume_capability: cap,
    publish_context: { targetPortal: ex.portal, targetIqn: ex.targetIqn, lun: String(ex.lun) },
  });

  it('stages an export of this node\'s engine through its local attach, and keeps the data across unstage', async () => {
    const ex = (await provision(engine.api, { pool: 'la', poolBytes: 256 * MiB, volume: 'v', volumeBytes: 96 * MiB }))!;
    const staging = join(dir, 'staging-local');
    const target = join(dir, 'pods', 'local');
    await mkdir(staging, { recursive: true });
    const stage = stageOf('vol-local', ex, staging);
    await client.call('Node', 'NodeStageVolume', stage);
    const attached = await ok<{ localAttaches: { path: string }[] }>(engine.api, 'GET', '/v1/local-attaches');
    assert.deepEqual(attached.localAttaches.map((l) => l.path), [join(dir, 'attach', 'la@v')]);
    const targets = await ok<{ targets: { sessions: unknown[] }[] }>(engine.api, 'GET', '/v1/targets');
    assert.deepEqual(targets.targets.flatMap((t) => t.sessions), [], 'no iSCSI session: the kernel reads the engine\'s FUSE file');

    await client.call('Node', 'NodePublishVolume', { volume_id: 'vol-local', staging_target_path: staging, target_path: target, volume_capability: cap });
    await writeFile(join(target, 'data.txt'), 'served locally\n', { flush: true });
    const stats = await client.call('Node', 'NodeGetVolumeStats', { volume_id: 'vol-local', volume_path: target });
    assert.equal(stats.volume_condition.abnormal, false);
    await client.call('Node', 'NodeUnpublishVolume', { volume_id: 'vol-local', target_path: target });
    await client.call('Node', 'NodeUnstageVolume', { volume_id: 'vol-local', staging_target_path: staging });
    assert.deepEqual((await ok<{ localAttaches: unknown[] }>(engine.api, 'GET', '/v1/local-attaches')).localAttaches, []);
    assert.equal((await runner.run('losetup', ['-j', join(dir, 'attach', 'la@v')])).stdout.trim(), '');

    await client.call('Node', 'NodeStageVolume', stage);
    assert.equal(await readFile(join(staging, 'data.txt'), 'utf8'), 'served locally\n');
    await client.call('Node', 'NodeUnstageVolume', { volume_id: 'vol-local', staging_target_path: staging });
    const left = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountPoint.startsWith(dir + '/'));
    assert.deepEqual(left, []);
  });

  it('attaches an export of another engine over iSCSI, as before', async () => {
    const ex = (await provision(other.api, { pool: 'rm', poolBytes: 256 * MiB, volume: 'v', volumeBytes: 96 * MiB }))!;
    const staging = join(dir, 'staging-remote');
    await mkdir(staging, { recursive: true });
    await client.call('Node', 'NodeStageVolume', stageOf('vol-remote', ex, staging));
    const targets = await ok<{ targets: { sessions: { initiatorName: string }[] }[] }>(other.api, 'GET', '/v1/targets');
    assert.deepEqual(targets.targets.flatMap((t) => t.sessions.map((s) => s.initiatorName)), ['iqn.2025-01.io.berth.test:node-la']);
    assert.deepEqual((await ok<{ localAttaches: unknown[] }>(engine.api, 'GET', '/v1/local-attaches')).localAttaches, []);
    await client.call('Node', 'NodeUnstageVolume', { volume_id: 'vol-remote', staging_target_path: staging });
  });
});
