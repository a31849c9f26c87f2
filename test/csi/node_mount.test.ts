/**
 * CSI node conformance over the real gRPC socket with real mkfs, mount, bind mounts,
 * resize2fs/xfs_growfs and statfs. The device is a loop on a sparse file attached by
 * LocalFileAttacher (test-only stand-in for the iSCSI LUN, built elsewhere).
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseMountInfo } from '../../src/csi/mount_info.ts';
import { coPaths, MiB, mountCap, stageReq, startNode, type NodeKit } from './node_kit.ts';

/** CAP_SYS_RESOURCE is capability bit 24 (linux/capability.h). */
async function hasCapSysResource(): Promise<boolean> {
  const eff = /CapEff:\s*([0-9a-f]+)/.exec(await readFile('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${eff}`) >> 24n) % 2n === 1n;
}

async function mountOf(path: string) {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountPoint === path).at(-1);
}

describe('CSI node: ext4 lifecycle', () => {
  let kit: NodeKit;
  before(async () => (kit = await startNode()));
  after(() => kit.cleanup());

  it('NodeGetInfo and NodeGetCapabilities describe the node', async () => {
    const info = await kit.client.call('Node', 'NodeGetInfo');
    assert.equal(info.node_id, 'node-test');
    assert.equal(Number(info.max_volumes_per_node), 8);
    assert.deepEqual(info.accessible_topology.segments, { 'topology.berth.io/zone': 'a', 'topology.berth.io/node': 'node-test' });
    const caps = await kit.client.call('Node', 'NodeGetCapabilities');
    const types = caps.capabilities.map((c: { rpc: { type: string } }) => c.rpc.type).sort();
    assert.deepEqual(types, ['EXPAND_VOLUME', 'GET_VOLUME_STATS', 'SINGLE_NODE_MULTI_WRITER', 'STAGE_UNSTAGE_VOLUME', 'VOLUME_CONDITION']);
  });

  it('stages, publishes rw and ro, reports stats, expands, unpublishes, unstages; a re-stage keeps the data', async () => {
    const vol = 'vol-ext4';
    const file = await kit.addVolume(vol, 64 * MiB);
    const { staging, pods } = await coPaths(kit, vol);
    const stage = stageReq(kit, vol, mountCap('ext4', 'SINGLE_NODE_WRITER', ['noatime']), { volume_context: { fsType: 'ext4' } });

    await kit.client.call('Node', 'NodeStageVolume', stage);
    const m = await mountOf(staging);
    assert.equal(m?.fsType, 'ext4');
    assert.ok(m?.options.includes('noatime'));
    await kit.client.call('Node', 'NodeStageVolume', stage);
    assert.equal(kit.attacher.attachCalls.filter((v) => v === vol).length, 1, 'an idempotent stage does not attach again');
    const elsewhere = await kit.client.callError('Node', 'NodeStageVolume', { ...stage, staging_target_path: join(kit.dir, 'other') });
    assert.equal(elsewhere.code, status.ALREADY_EXISTS);
    const otherFs = await kit.client.callError('Node', 'NodeStageVolume', { ...stage, volume_capability: mountCap('xfs') });
    assert.equal(otherFs.code, status.ALREADY_EXISTS);

    const rw = join(pods, 'rw');
    const ro = join(pods, 'ro');
    const pub = { volume_id: vol, staging_target_path: staging, volume_capability: mountCap('ext4') };
    await kit.client.call('Node', 'NodePublishVolume', { ...pub, target_path: rw });
    await kit.client.call('Node', 'NodePublishVolume', { ...pub, target_path: rw });
    await writeFile(join(rw, 'hello.txt'), 'kept across unstage\n');
    await kit.client.call('Node', 'NodePublishVolume', { ...pub, target_path: ro, readonly: true });
    assert.equal(await readFile(join(ro, 'hello.txt'), 'utf8'), 'kept across unstage\n');
    await assert.rejects(writeFile(join(ro, 'nope.txt'), 'x'), { code: 'EROFS' });
    assert.equal((await kit.client.callError('Node', 'NodePublishVolume', { ...pub, target_path: rw, readonly: true })).code, status.ALREADY_EXISTS);
    assert.equal((await kit.client.callError('Node', 'NodePublishVolume', { ...pub, staging_target_path: join(kit.dir, 'wrong'), target_path: join(pods, 'x') })).code, status.FAILED_PRECONDITION);

    const stats = await kit.client.call('Node', 'NodeGetVolumeStats', { volume_id: vol, volume_path: rw });
    const bytes = stats.usage.find((u: { unit: string }) => u.unit === 'BYTES');
    const inodes = stats.usage.find((u: { unit: string }) => u.unit === 'INODES');
    assert.ok(Number(bytes.total) > 50 * MiB && Number(bytes.total) <= 64 * MiB, `total ${bytes.total}`);
    assert.ok(Number(bytes.used) > 0 && Number(bytes.available) > 0);
    assert.ok(Number(inodes.total) > 1000 && Number(inodes.used) >= 12);
    assert.equal(stats.volume_condition.abnormal, false);

    await truncate(file, 128 * MiB);
    const expand = { volume_id: vol, volume_path: rw, capacity_range: { required_bytes: String(128 * MiB) } };
    if (await hasCapSysResource()) {
      const grown = await kit.client.call('Node', 'NodeExpandVolume', expand);
      assert.equal(Number(grown.capacity_bytes), 128 * MiB);
      const after = await kit.client.call('Node', 'NodeGetVolumeStats', { volume_id: vol, volume_path: rw });
      assert.ok(Number(after.usage[0].total) > 100 * MiB, 'the filesystem grew');
    } else {
      // These VMs' root lacks CAP_SYS_RESOURCE, which ext4's online resize ioctl demands;
      // the device still grows and the error says why (xfs growth is checked below).
      const e = await kit.client.callError('Node', 'NodeExpandVolume', expand);
      assert.equal(e.code, status.INTERNAL);
      assert.match(e.details, /needs CAP_SYS_RESOURCE/);
      assert.equal(Number((await kit.client.call('Node', 'NodeGetVolumeStats', { volume_id: vol, volume_path: rw })).usage[0].total) < 100 * MiB, true);
    }

    const busy = await kit.client.callError('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });
    assert.equal(busy.code, status.FAILED_PRECONDITION);
    for (const target of [rw, ro, rw]) await kit.client.call('Node', 'NodeUnpublishVolume', { volume_id: vol, target_path: target });
    assert.equal(existsSync(rw), false, 'the plugin removes the target path it made');
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });
    assert.equal(await mountOf(staging), undefined);
    assert.equal(await kit.attacher.loopOf(file), undefined, 'the loop device is detached');
    assert.deepEqual(kit.attacher.detachCalls.at(-1), { volumeId: vol, lastUserOfTarget: true });

    await kit.client.call('Node', 'NodeStageVolume', stage);
    assert.equal(await readFile(join(staging, 'hello.txt'), 'utf8'), 'kept across unstage\n', 'stage never reformats a volume with a filesystem');
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });
  });

  it('never formats a device holding another filesystem or data without a signature', async () => {
    const vol = 'vol-data';
    const file = await kit.addVolume(vol, 64 * MiB);
    await coPaths(kit, vol);
    const fh = await open(file, 'r+');
    await fh.write(Buffer.alloc(4096, 0xab), 0, 4096, 8192);
    await fh.close();
    const e = await kit.client.callError('Node', 'NodeStageVolume', stageReq(kit, vol, mountCap('ext4')));
    assert.equal(e.code, status.FAILED_PRECONDITION);
    assert.match(e.details, /never reformats/);
    const check = await open(file, 'r');
    const buf = Buffer.alloc(4096);
    await check.read(buf, 0, 4096, 8192);
    await check.close();
    assert.ok(buf.every((b) => b === 0xab), 'the data is untouched');
    // The failed stage left its attach recorded; unstage cleans it up.
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: join(kit.dir, 'staging', vol) });
    assert.equal(await kit.attacher.loopOf(file), undefined);
  });
});

describe('CSI node: xfs', () => {
  let kit: NodeKit;
  before(async () => (kit = await startNode()));
  after(() => kit.cleanup());

  it('formats a blank volume as xfs, grows it with xfs_growfs, and refuses to stage it as ext4', async () => {
    const vol = 'vol-xfs';
    const file = await kit.addVolume(vol, 320 * MiB);
    const { staging, pods } = await coPaths(kit, vol);
    // No fs_type in the capability: the StorageClass's fsType (volume_context) decides.
    await kit.client.call('Node', 'NodeStageVolume', stageReq(kit, vol, mountCap(''), { volume_context: { fsType: 'xfs' } }));
    assert.equal((await mountOf(staging))?.fsType, 'xfs');
    const target = join(pods, 'xfs');
    await kit.client.call('Node', 'NodePublishVolume', { volume_id: vol, staging_target_path: staging, target_path: target, volume_capability: mountCap('') });
    const before = await kit.client.call('Node', 'NodeGetVolumeStats', { volume_id: vol, volume_path: target });
    await truncate(file, 640 * MiB);
    const grown = await kit.client.call('Node', 'NodeExpandVolume', { volume_id: vol, volume_path: target, capacity_range: { required_bytes: String(640 * MiB) } });
    assert.equal(Number(grown.capacity_bytes), 640 * MiB);
    const after = await kit.client.call('Node', 'NodeGetVolumeStats', { volume_id: vol, volume_path: target });
    assert.ok(Number(after.usage[0].total) > Number(before.usage[0].total) + 200 * MiB);
    await kit.client.call('Node', 'NodeUnpublishVolume', { volume_id: vol, target_path: target });
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });

    const wrongFs = await kit.client.callError('Node', 'NodeStageVolume', stageReq(kit, vol, mountCap('ext4')));
    assert.equal(wrongFs.code, status.FAILED_PRECONDITION);
    assert.match(wrongFs.details, /holds xfs, not ext4/);
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });
  });
});
