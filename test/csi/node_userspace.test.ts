/**
 * The user-space attach path for real: UserSpaceAttacher logs in with qemu-storage-daemon
 * (libiscsi) to a real iSCSI target and exports the LUN over FUSE to a loop device.
 * The target is Debian's tgt, standing in for Berth's own target (built concurrently);
 * the node plugin formats, mounts, publishes, and after unstage/restage the data is
 * intact through a new session. Cleanup removes mounts, loops, daemons and tgtd.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { identityHandlers } from '../../src/csi/identity.ts';
import { parseMountInfo } from '../../src/csi/mount_info.ts';
import { createNodeService } from '../../src/csi/node.ts';
import { HostCommandRunner } from '../../src/csi/node_exec.ts';
import { CsiServer } from '../../src/csi/server.ts';
import { UserSpaceAttacher } from '../../src/csi/user_space_attacher.ts';
import { silentLogger } from '../../src/util/log.ts';
import { startTgt, type TgtTarget } from '../helpers/tgt.ts';
import { waitFor } from '../helpers/tools.ts';
import { CsiClient } from './csi_client.ts';

const MiB = 2 ** 20;
const runner = new HostCommandRunner();
const VOL = 'vol-us';

describe('CSI node: user-space iSCSI attach (qemu-storage-daemon + loop) against tgt', () => {
  let dir: string;
  let tgt: TgtTarget;
  let server: CsiServer;
  let client: CsiClient;
  let attacher: UserSpaceAttacher;
  const log = silentLogger();

  const boot = async () => {
    const node = await createNodeService({ nodeId: 'node-us', stateDir: join(dir, 'state'), attacher, runner, log });
    server = new CsiServer({ endpoint: join(dir, 'csi.sock'), identity: identityHandlers({ controller: false, ready: async () => true }), node: node.handlers, log });
    await server.start();
    client = new CsiClient(join(dir, 'csi.sock'));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-csi-us-'));
    const backing = join(dir, 'lun.img');
    await writeFile(backing, '');
    await truncate(backing, 64 * MiB);
    tgt = await startTgt({ backingFile: backing });
    attacher = new UserSpaceAttacher({ runner, stateDir: join(dir, 'state'), initiatorName: 'iqn.2025-01.io.berth.test:node-us' });
    await boot();
  });

  after(async () => {
    client?.close();
    await server?.stop(1000).catch(() => undefined);
    const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).map((m) => m.mountPoint).filter((p) => p.startsWith(dir + '/')).sort((a, b) => b.length - a.length);
    for (const m of mounts.filter((p) => !p.endsWith('lun.img'))) await runner.run('umount', ['-l', m]);
    await attacher.detach(VOL).catch(() => undefined);
    await tgt?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stages through a real iSCSI session, keeps data across unstage and a plugin restart, and leaves nothing behind', async () => {
    const staging = join(dir, 'staging');
    const pods = join(dir, 'pods');
    await mkdir(staging, { recursive: true });
    await mkdir(pods, { recursive: true });
    const cap = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    const stage = { volume_id: VOL, staging_target_path: staging, volume_capability: cap, publish_context: { targetPortal: `${tgt.host}:${tgt.port}`, targetIqn: tgt.iqn, lun: String(tgt.lun) } };
    const target = join(pods, 't');

    await client.call('Node', 'NodeStageVolume', stage);
    await client.call('Node', 'NodePublishVolume', { volume_id: VOL, staging_target_path: staging, target_path: target, volume_capability: cap });
    await writeFile(join(target, 'data.txt'), 'over iSCSI\n', { flush: true });
    const stats = await client.call('Node', 'NodeGetVolumeStats', { volume_id: VOL, volume_path: target });
    assert.equal(stats.volume_condition.abnormal, false);
    assert.ok(Number(stats.usage[0].total) > 50 * MiB);

    // The plugin restarts with the volume staged: it finds the daemon from its records.
    client.close();
    await server.stop(1000);
    await boot();
    await client.call('Node', 'NodeUnpublishVolume', { volume_id: VOL, target_path: target });
    await client.call('Node', 'NodeUnstageVolume', { volume_id: VOL, staging_target_path: staging });
    assert.equal(existsSync(join(dir, 'state', 'userspace', VOL)), false, 'daemon files removed');
    assert.equal((await runner.run('losetup', ['-j', join(dir, 'state', 'userspace', VOL, 'lun.img')])).stdout.trim(), '');

    await client.call('Node', 'NodeStageVolume', stage);
    assert.equal(await readFile(join(staging, 'data.txt'), 'utf8'), 'over iSCSI\n', 'a new session sees the data; nothing reformatted');
    await client.call('Node', 'NodeUnstageVolume', { volume_id: VOL, staging_target_path: staging });
    const left = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountPoint.startsWith(dir + '/'));
    assert.deepEqual(left, []);
    assert.deepEqual(await readdir(join(dir, 'state', 'userspace')), []);
  });

  it('a mount namespace cloned while the volume is staged: what the pod wrote without fsync is on the volume after unstage', async () => {
    const staging = join(dir, 'staging-ns');
    const target = join(dir, 'pods', 'ns');
    await mkdir(staging, { recursive: true });
    const cap = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    const stage = { volume_id: VOL, staging_target_path: staging, volume_capability: cap, publish_context: { targetPortal: `${tgt.host}:${tgt.port}`, targetIqn: tgt.iqn, lun: String(tgt.lun) } };
    await client.call('Node', 'NodeStageVolume', stage);
    await client.call('Node', 'NodePublishVolume', { volume_id: VOL, staging_target_path: staging, target_path: target, volume_capability: cap });
    const device = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).find((m) => m.mountPoint === staging)!.source;
    const payload = randomBytes(2 * MiB);
    await writeFile(join(target, 'unsynced.bin'), payload); // no fsync: in the page cache
    // Another process clones the mount namespace now (as unshare -m, a container runtime or
    // ip netns exec do): the filesystem lives on in it after the plugin's unmount.
    const leak = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '300'], { stdio: 'ignore' });
    try {
      await waitFor('the cloned namespace to hold the mount', async () => ((await readFile(`/proc/${leak.pid}/mountinfo`, 'utf8').catch(() => '')).includes(` ${staging} `) ? true : undefined), 10_000);
      await client.call('Node', 'NodeUnpublishVolume', { volume_id: VOL, target_path: target });
      await client.call('Node', 'NodeUnstageVolume', { volume_id: VOL, staging_target_path: staging });
    } finally {
      leak.kill('SIGKILL');
    }
    const name = device.replace('/dev/', '');
    await waitFor('the cloned namespace to let the filesystem go', () => (existsSync(`/sys/fs/ext4/${name}`) ? undefined : true), 30_000);

    await client.call('Node', 'NodeStageVolume', stage);
    assert.ok(createHash('sha256').update(await readFile(join(staging, 'unsynced.bin'))).digest('hex') === createHash('sha256').update(payload).digest('hex'), 'the unsynced write reached the volume before the attach went');
    await client.call('Node', 'NodeUnstageVolume', { volume_id: VOL, staging_target_path: staging });
  });
});
