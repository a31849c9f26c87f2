import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../util/log.ts';
import { errorCode } from '../util/errors.ts';
import { groupControllerHandlers } from './group_controller.ts';
import type { GroupSnapshot, SnapshotGroupClient } from './group_backend.ts';

/** A group that an interrupted delete left with one of its two members. */
function halfDeleted(): SnapshotGroupClient & { deleted: string[] } {
  const member = { id: 's-v2', name: 'v2', sourceVolumeId: 'v2', sizeBytes: 1, createdAtMs: 1, readyToUse: true, groupSnapshotId: 'g-h' };
  let group: GroupSnapshot | undefined = { id: 'g-h', name: 'h', volumeIds: ['v1', 'v2'], createdAtMs: 1, snapshots: [member] };
  const deleted: string[] = [];
  return {
    deleted,
    async createGroupSnapshot() { throw new Error('unused'); },
    async getGroupSnapshot(id) { return id === group?.id ? group : undefined; },
    async deleteGroupSnapshot(id) { deleted.push(id); group = undefined; },
    async snapshotBlocks() { throw new Error('unused'); },
  };
}

test('DeleteVolumeGroupSnapshot finishes a group an interrupted delete left partial, with the CO\'s full snapshot_ids', async () => {
  const backend = halfDeleted();
  const h = groupControllerHandlers(backend, silentLogger());
  await assert.rejects(h.DeleteVolumeGroupSnapshot({ group_snapshot_id: 'g-h', snapshot_ids: ['s-v1', 's-other'] }), (e) => errorCode(e) === 'CSI_INVALID_ARGUMENT');
  await assert.rejects(h.GetVolumeGroupSnapshot({ group_snapshot_id: 'g-h', snapshot_ids: ['s-v1', 's-v2'] }), (e) => errorCode(e) === 'CSI_INVALID_ARGUMENT');
  assert.deepEqual(await h.DeleteVolumeGroupSnapshot({ group_snapshot_id: 'g-h', snapshot_ids: ['s-v1', 's-v2'] }), {});
  assert.deepEqual(backend.deleted, ['g-h']);
});
