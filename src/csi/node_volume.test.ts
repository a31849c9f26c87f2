import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../util/log.ts';
import type { Attacher } from './attacher.ts';
import { KeyedLocks } from './csi_locks.ts';
import type { Mounter } from './mount.ts';
import type { NodeDeps } from './node_stage.ts';
import { nodeExpand, nodeGetVolumeStats } from './node_volume.ts';
import { StagedStore } from './staged_store.ts';

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

describe('NodeGetVolumeStats and NodeExpandVolume look the volume up before the path', () => {
  let dir: string;
  let d: NodeDeps;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `berth-node-volume-${process.pid}-`));
    const store = new StagedStore(dir);
    await store.load();
    await store.put({
      volumeId: 'known', stagingPath: '/stage/known', kind: 'mount', fsType: 'ext4', mountFlags: [], accessMode: 'SINGLE_NODE_WRITER',
      attacher: 'iscsiadm', target: { portal: '127.0.0.1:3260', iqn: 'iqn.2026-11.io.berth:vol-known', lun: 0 },
      device: { devicePath: '/dev/null', handle: {} }, phase: 'staged', publications: [],
    });
    d = { nodeId: 'n1', topology: {}, maxVolumes: 8, attacher: {} as Attacher, mounter: {} as Mounter, store, locks: new KeyedLocks(), log: silentLogger() };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('an unknown volume is NOT_FOUND with a relative, foreign or dotted path; no path at all is INVALID_ARGUMENT', async () => {
    for (const volume_path of ['relative/path', '/some/where', '/stage/../etc']) {
      await assert.rejects(nodeGetVolumeStats(d, { volume_id: 'nope', volume_path }), code('CSI_VOLUME_NOT_FOUND'), volume_path);
      await assert.rejects(nodeExpand(d, { volume_id: 'nope', volume_path } as never), code('CSI_VOLUME_NOT_FOUND'), volume_path);
    }
    await assert.rejects(nodeGetVolumeStats(d, { volume_id: 'nope', volume_path: '' }), code('CSI_MISSING_FIELD'));
    await assert.rejects(nodeExpand(d, { volume_id: 'nope', volume_path: '' } as never), code('CSI_MISSING_FIELD'));
  });

  it('takes kubelet\'s pod paths, which are longer than 128 bytes (issue 11: "volume_path is longer than 128 bytes")', async () => {
    const long = `/var/lib/kubelet/pods/${'0'.repeat(36)}/volumes/kubernetes.io~csi/pvc-${'1'.repeat(36)}/mount`;
    assert.ok(Buffer.byteLength(long) > 128);
    await d.store.put({
      volumeId: 'raw', stagingPath: '/stage/raw', kind: 'block', mountFlags: [], accessMode: 'SINGLE_NODE_WRITER',
      attacher: 'iscsiadm', target: { portal: '127.0.0.1:3260', iqn: 'iqn.2026-11.io.berth:vol-raw', lun: 0 },
      device: { devicePath: '/dev/null', handle: {} }, phase: 'staged', publications: [{ targetPath: long, readonly: false }],
    } as never);
    const withSize = { ...d, mounter: { blockDeviceBytes: async () => 4096 } as unknown as Mounter };
    assert.deepEqual(await nodeExpand(withSize, { volume_id: 'raw', volume_path: long } as never), { capacity_bytes: 4096 });
    await assert.rejects(nodeGetVolumeStats(d, { volume_id: 'raw', volume_path: long }), code('CSI_VOLUME_PATH_NOT_FOUND'), 'looked up, then not on disk here');
  });

  it('a known volume at a path that is not its own (relative ones too) is NOT_FOUND there', async () => {
    await assert.rejects(nodeGetVolumeStats(d, { volume_id: 'known', volume_path: 'relative' }), code('CSI_VOLUME_PATH_NOT_FOUND'));
    await assert.rejects(nodeGetVolumeStats(d, { volume_id: 'known', volume_path: '' }), code('CSI_MISSING_FIELD'));
    await assert.rejects(nodeExpand(d, { volume_id: 'known', volume_path: '/elsewhere' } as never), code('CSI_VOLUME_PATH_NOT_FOUND'));
  });
});
