import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../util/log.ts';
import type { Capacity, ControlPlaneClient, TopologySegment } from './backend.ts';
import { KeyedLocks } from './csi_locks.ts';
import { getCapacity } from './controller_volumes.ts';
import type { VolumeParameters } from './parameters.ts';

/** A backend that answers GetCapacity only, recording what it was asked. */
function capacityBackend(asked: { parameters?: VolumeParameters; segment?: TopologySegment }[]): ControlPlaneClient {
  return {
    getCapacity: async (parameters: VolumeParameters, segment?: TopologySegment): Promise<Capacity> => {
      asked.push({ parameters, segment });
      return { availableBytes: 5 << 20, maximumVolumeSize: 4 << 20 };
    },
  } as unknown as ControlPlaneClient;
}

describe('GetCapacity', () => {
  it('accepts access mode UNKNOWN or none, as external-provisioner before v5 sends', async () => {
    const asked: { parameters?: VolumeParameters }[] = [];
    const d = { backend: capacityBackend(asked), locks: new KeyedLocks(), log: silentLogger() };
    const mount = { access_type: 'mount' as const, mount: { fs_type: 'ext4', mount_flags: [], volume_mount_group: '' }, access_mode: { mode: 'UNKNOWN' } };
    const out = (await getCapacity(d, { volume_capabilities: [mount], parameters: { replicas: '2' } } as never)) as { available_capacity: number };
    assert.equal(out.available_capacity, 5 << 20);
    await getCapacity(d, { volume_capabilities: [{ access_type: 'block', block: {} }], parameters: {} } as never);
    await getCapacity(d, { volume_capabilities: [{ mount: { fs_type: 'xfs', mount_flags: [], volume_mount_group: '' }, access_mode: null }], parameters: {} } as never);
    assert.equal(asked.length, 3);
    assert.equal(asked[0].parameters?.replicas, 2);
  });

  it('still refuses what Berth cannot serve', async () => {
    const d = { backend: capacityBackend([]), locks: new KeyedLocks(), log: silentLogger() };
    const zfs = { access_type: 'mount' as const, mount: { fs_type: 'zfs', mount_flags: [], volume_mount_group: '' }, access_mode: { mode: 'UNKNOWN' } };
    await assert.rejects(getCapacity(d, { volume_capabilities: [zfs], parameters: {} } as never), /zfs/);
    const bogus = { access_type: 'block' as const, block: {}, access_mode: { mode: 'BOGUS' } };
    await assert.rejects(getCapacity(d, { volume_capabilities: [bogus], parameters: {} } as never), /not a known mode/);
  });
});
