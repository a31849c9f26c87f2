/**
 * CSI node conformance: raw block publish, a node plugin restart in the middle of a
 * volume's life, shared-target logout accounting, and the error codes. Real loop
 * devices via LocalFileAttacher (test-only stand-in for the iSCSI LUN).
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { open, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { blockCap, coPaths, MiB, mountCap, publishContext, stageReq, startNode, type NodeKit } from './node_kit.ts';

describe('CSI node: raw block', () => {
  let kit: NodeKit;
  before(async () => (kit = await startNode()));
  after(() => kit.cleanup());

  it('publishes the device onto a file, writes through it, reports its size, and grows it', async () => {
    const vol = 'vol-block';
    const file = await kit.addVolume(vol, 32 * MiB);
    const { staging, pods } = await coPaths(kit, vol);
    await kit.client.call('Node', 'NodeStageVolume', stageReq(kit, vol, blockCap()));
    const target = join(pods, 'dev-file');
    await kit.client.call('Node', 'NodePublishVolume', { volume_id: vol, staging_target_path: staging, target_path: target, volume_capability: blockCap() });
    assert.ok((await stat(target)).isBlockDevice(), 'the target is the device node');
    const fh = await open(target, 'r+');
    await fh.write(Buffer.alloc(4096, 0x5a), 0, 4096, MiB);
    await fh.sync();
    await fh.close();
    const back = Buffer.alloc(4096);
    const bf = await open(file, 'r');
    await bf.read(back, 0, 4096, MiB);
    await bf.close();
    assert.ok(back.every((b) => b === 0x5a), 'the write reached the backing file');

    const stats = await kit.client.call('Node', 'NodeGetVolumeStats', { volume_id: vol, volume_path: target });
    assert.equal(Number(stats.usage[0].total), 32 * MiB);
    await truncate(file, 48 * MiB);
    const grown = await kit.client.call('Node', 'NodeExpandVolume', { volume_id: vol, volume_path: target, capacity_range: { required_bytes: String(48 * MiB) } });
    assert.equal(Number(grown.capacity_bytes), 48 * MiB);

    const ro = join(pods, 'dev-ro');
    const roReq = { volume_id: vol, staging_target_path: staging, target_path: ro, volume_capability: blockCap(), readonly: true };
    const mixed = await kit.client.callError('Node', 'NodePublishVolume', roReq);
    assert.equal(mixed.code, status.FAILED_PRECONDITION, 'read-only and read-write raw publications cannot share a device');
    const mismatch = await kit.client.callError('Node', 'NodePublishVolume', { volume_id: vol, staging_target_path: staging, target_path: join(pods, 'm'), volume_capability: mountCap() });
    assert.equal(mismatch.code, status.FAILED_PRECONDITION);
    await kit.client.call('Node', 'NodeUnpublishVolume', { volume_id: vol, target_path: target });
    assert.equal(existsSync(target), false);

    await kit.client.call('Node', 'NodePublishVolume', roReq);
    // The kernel refuses the open or, on newer kernels, the write to a read-only device.
    await assert.rejects(async () => {
      const h = await open(ro, 'r+');
      try {
        await h.write(Buffer.alloc(512, 1), 0, 512, 0);
      } finally {
        await h.close();
      }
    }, (e: NodeJS.ErrnoException) => ['EPERM', 'EACCES', 'EROFS'].includes(e.code ?? ''));
    const rd = await open(ro, 'r');
    const seen = Buffer.alloc(4096);
    await rd.read(seen, 0, 4096, MiB);
    await rd.close();
    assert.ok(seen.every((b) => b === 0x5a));
    await kit.client.call('Node', 'NodeUnpublishVolume', { volume_id: vol, target_path: ro });
    const loop = await kit.attacher.loopOf(file);
    assert.equal((await readFile(`/sys/block/${loop!.slice(5)}/ro`, 'utf8')).trim(), '0', 'the last unpublish clears the read-only flag');
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });
    assert.equal(await kit.attacher.loopOf(file), undefined);
  });
});

describe('CSI node: restart and shared targets', () => {
  let kit: NodeKit;
  before(async () => (kit = await startNode()));
  after(() => kit.cleanup());

  it('a restarted node plugin still knows what is staged and published', async () => {
    const vol = 'vol-restart';
    const file = await kit.addVolume(vol, 64 * MiB);
    const { staging, pods } = await coPaths(kit, vol);
    const stage = stageReq(kit, vol, mountCap('ext4'));
    await kit.client.call('Node', 'NodeStageVolume', stage);
    const target = join(pods, 'r');
    await kit.client.call('Node', 'NodePublishVolume', { volume_id: vol, staging_target_path: staging, target_path: target, volume_capability: mountCap('ext4') });

    await kit.restart();
    await kit.client.call('Node', 'NodeStageVolume', stage);
    assert.equal(kit.attacher.attachCalls.filter((v) => v === vol).length, 1, 'the restarted plugin found the staged record');
    const stats = await kit.client.call('Node', 'NodeGetVolumeStats', { volume_id: vol, volume_path: target });
    assert.equal(stats.volume_condition.abnormal, false);
    assert.equal((await kit.client.callError('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging })).code, status.FAILED_PRECONDITION);
    await kit.client.call('Node', 'NodeUnpublishVolume', { volume_id: vol, target_path: target });
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });
    assert.equal(await kit.attacher.loopOf(file), undefined);
  });

  it('two LUNs of one target: only the last unstage is told to log out', async () => {
    const vols = ['vol-lun0', 'vol-lun1'];
    for (const [i, vol] of vols.entries()) {
      await kit.addVolume(vol, 16 * MiB);
      await coPaths(kit, vol);
      const ctx = { ...publishContext('shared'), lun: String(i) };
      await kit.client.call('Node', 'NodeStageVolume', stageReq(kit, vol, blockCap(), { publish_context: ctx }));
    }
    for (const vol of vols) await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: join(kit.dir, 'staging', vol) });
    assert.deepEqual(kit.attacher.detachCalls.slice(-2), [
      { volumeId: 'vol-lun0', lastUserOfTarget: false },
      { volumeId: 'vol-lun1', lastUserOfTarget: true },
    ]);
  });

  it('a volume whose device vanished reports an abnormal condition', async () => {
    const vol = 'vol-gone';
    const file = await kit.addVolume(vol, 16 * MiB);
    const { staging } = await coPaths(kit, vol);
    await kit.client.call('Node', 'NodeStageVolume', stageReq(kit, vol, blockCap()));
    const loop = await kit.attacher.loopOf(file);
    assert.ok(loop);
    // Simulates a lost session: the device goes away under the plugin.
    const { HostCommandRunner } = await import('../../src/csi/node_exec.ts');
    await new HostCommandRunner().run('losetup', ['-d', loop]);
    const stats = await kit.client.call('Node', 'NodeGetVolumeStats', { volume_id: vol, volume_path: staging });
    assert.equal(stats.volume_condition.abnormal, true);
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: vol, staging_target_path: staging });
  });
});

describe('CSI node: errors', () => {
  let kit: NodeKit;
  before(async () => (kit = await startNode()));
  after(() => kit.cleanup());

  it('answers missing and bad fields, unknown volumes and unstaged publishes with the spec codes', async () => {
    const vol = 'vol-err';
    await kit.addVolume(vol, 16 * MiB);
    const { staging, pods } = await coPaths(kit, vol);
    const good = stageReq(kit, vol, mountCap('ext4'));
    const cases: [string, object, status, RegExp?][] = [
      ['NodeStageVolume', { ...good, volume_id: '' }, status.INVALID_ARGUMENT, /volume_id is required/],
      ['NodeStageVolume', { ...good, staging_target_path: '' }, status.INVALID_ARGUMENT],
      ['NodeStageVolume', { ...good, staging_target_path: 'relative/path' }, status.INVALID_ARGUMENT, /absolute path/],
      ['NodeStageVolume', { ...good, staging_target_path: `${staging}/../../x` }, status.INVALID_ARGUMENT],
      ['NodeStageVolume', { ...good, volume_capability: null }, status.INVALID_ARGUMENT],
      ['NodeStageVolume', { ...good, volume_capability: mountCap('ntfs') }, status.INVALID_ARGUMENT, /ntfs/],
      ['NodeStageVolume', { ...good, publish_context: { targetPortal: '127.0.0.1:3260', lun: '0' } }, status.INVALID_ARGUMENT, /targetIqn/],
      ['NodeStageVolume', { ...good, publish_context: { ...publishContext(vol), targetPortal: 'no-port' } }, status.INVALID_ARGUMENT, /host:port/],
      ['NodeStageVolume', { ...good, secrets: { chapUsername: 'u' } }, status.INVALID_ARGUMENT, /CHAP needs both/],
      ['NodePublishVolume', { volume_id: vol, staging_target_path: staging, target_path: join(pods, 'p'), volume_capability: mountCap() }, status.FAILED_PRECONDITION, /not staged/],
      ['NodePublishVolume', { volume_id: vol, target_path: join(pods, 'p'), volume_capability: mountCap() }, status.FAILED_PRECONDITION, /staging_target_path/],
      ['NodePublishVolume', { volume_id: vol, staging_target_path: staging, volume_capability: mountCap() }, status.INVALID_ARGUMENT],
      ['NodeUnpublishVolume', { volume_id: vol }, status.INVALID_ARGUMENT],
      ['NodeUnstageVolume', { staging_target_path: staging }, status.INVALID_ARGUMENT],
      ['NodeGetVolumeStats', { volume_id: 'vol-nope', volume_path: staging }, status.NOT_FOUND],
      ['NodeGetVolumeStats', { volume_id: vol }, status.INVALID_ARGUMENT],
      ['NodeExpandVolume', { volume_id: 'vol-nope', volume_path: staging }, status.NOT_FOUND],
      ['NodeExpandVolume', { volume_id: vol, volume_path: staging, capacity_range: { required_bytes: '10', limit_bytes: '5' } }, status.INVALID_ARGUMENT],
    ];
    for (const [method, req, code, message] of cases) {
      const e = await kit.client.callError('Node', method, req);
      assert.equal(e.code, code, `${method} ${JSON.stringify(req)}: ${e.details}`);
      if (message) assert.match(e.details, message);
    }
    // Unpublish of something never published is OK (idempotent), as is unstage of an unknown volume.
    await kit.client.call('Node', 'NodeUnpublishVolume', { volume_id: vol, target_path: join(pods, 'never') });
    await kit.client.call('Node', 'NodeUnstageVolume', { volume_id: 'vol-nope', staging_target_path: staging });
    assert.equal(kit.attacher.attachCalls.length, 0, 'no bad request reached the attacher');
    assert.equal(JSON.stringify(await readFile('/proc/self/mountinfo', 'utf8')).includes(kit.dir), false);
  });
});
