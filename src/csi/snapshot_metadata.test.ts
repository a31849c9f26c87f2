import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../util/log.ts';
import { identityHandlers } from './identity.ts';
import { snapshotMetadataHandlers } from './snapshot_metadata.ts';
import { groupControllerHandlers } from './group_controller.ts';
import type { BlockPage, GroupSnapshot, SnapshotGroupClient } from './group_backend.ts';
import { errorCode } from '../util/errors.ts';

/** Ranges every 8 KiB in a 1 MiB volume; pages of `maxResults` from `startingOffset`, as the control plane pages. */
function fakeGroups(): SnapshotGroupClient & { asked: unknown[] } {
  const all = Array.from({ length: 100 }, (_, i) => ({ offset: i * 8192, length: 4096 }));
  const asked: unknown[] = [];
  const groups = new Map<string, GroupSnapshot>();
  return {
    asked,
    async snapshotBlocks(id, q): Promise<BlockPage> {
      asked.push({ id, ...q });
      if (id === 'missing') throw Object.assign(new Error('no'), { code: 'CSI_SNAPSHOT_NOT_FOUND' });
      const from = all.filter((r) => r.offset + r.length > q.startingOffset);
      const n = q.maxResults ?? 30;
      return { sizeBytes: 1 << 20, blockSize: 4096, ranges: from.slice(0, n), nextOffset: from[n]?.offset ?? null };
    },
    async createGroupSnapshot(name, volumeIds) {
      const g: GroupSnapshot = { id: `g-${name}`, name, volumeIds: [...volumeIds], createdAtMs: 1500, snapshots: volumeIds.map((v) => ({ id: `s-${v}`, name: v, sourceVolumeId: v, sizeBytes: 1, createdAtMs: 1500, readyToUse: true, groupSnapshotId: `g-${name}` })) };
      groups.set(g.id, g);
      return g;
    },
    async getGroupSnapshot(id) { return groups.get(id); },
    async deleteGroupSnapshot(id) { groups.delete(id); },
  };
}

test('GetMetadataAllocated: one message per control-plane page until the last; max_results bounds each message', async () => {
  const backend = fakeGroups();
  const h = snapshotMetadataHandlers(backend, silentLogger());
  const sent: { block_metadata: unknown[]; block_metadata_type: string; volume_capacity_bytes: number }[] = [];
  await h.GetMetadataAllocated({ snapshot_id: 's1', starting_offset: '0', max_results: 40 }, (m) => sent.push(m as never));
  assert.deepEqual(sent.map((m) => m.block_metadata.length), [40, 40, 20]);
  assert.ok(sent.every((m) => m.block_metadata_type === 'VARIABLE_LENGTH' && m.volume_capacity_bytes === 1 << 20));
  const none: unknown[] = [];
  await assert.rejects(h.GetMetadataAllocated({ snapshot_id: 's1', starting_offset: String(1 << 20) }, (m) => none.push(m)), (e) => errorCode(e) === 'CSI_CAPACITY_OUT_OF_RANGE');
  await assert.rejects(h.GetMetadataAllocated({ snapshot_id: '' }, () => undefined), (e) => errorCode(e) === 'CSI_MISSING_FIELD');
  await assert.rejects(h.GetMetadataDelta({ base_snapshot_id: 'a', target_snapshot_id: 'b', max_results: -1 }, () => undefined), (e) => errorCode(e) === 'CSI_INVALID_ARGUMENT');
  await h.GetMetadataDelta({ base_snapshot_id: 'a', target_snapshot_id: 'b', starting_offset: '409600' }, () => undefined);
  assert.deepEqual(backend.asked.at(-1), { id: 'b', base: 'a', startingOffset: 409600 + 30 * 8192 });
});

test('GroupController: validation, idempotent create, snapshot_ids must match, delete of a missing group is fine', async () => {
  const h = groupControllerHandlers(fakeGroups(), silentLogger());
  await assert.rejects(h.CreateVolumeGroupSnapshot({ source_volume_ids: ['v1'] }), (e) => errorCode(e) === 'CSI_MISSING_FIELD');
  await assert.rejects(h.CreateVolumeGroupSnapshot({ name: 'g', source_volume_ids: [] }), (e) => errorCode(e) === 'CSI_MISSING_FIELD');
  await assert.rejects(h.CreateVolumeGroupSnapshot({ name: 'g', source_volume_ids: ['v1'], parameters: { speed: 'fast' } }), (e) => errorCode(e) === 'CSI_INVALID_ARGUMENT');
  const made = (await h.CreateVolumeGroupSnapshot({ name: 'g', source_volume_ids: ['v1', 'v2'], parameters: { 'csi.storage.k8s.io/volumegroupsnapshot/name': 'x' } })) as { group_snapshot: { group_snapshot_id: string; ready_to_use: boolean; snapshots: { group_snapshot_id: string }[]; creation_time: { seconds: number; nanos: number } } };
  assert.equal(made.group_snapshot.ready_to_use, true);
  assert.deepEqual(made.group_snapshot.creation_time, { seconds: 1, nanos: 500_000_000 });
  assert.ok(made.group_snapshot.snapshots.every((s) => s.group_snapshot_id === 'g-g'));
  await assert.rejects(h.GetVolumeGroupSnapshot({ group_snapshot_id: 'g-g', snapshot_ids: ['s-v1'] }), (e) => errorCode(e) === 'CSI_INVALID_ARGUMENT');
  await h.GetVolumeGroupSnapshot({ group_snapshot_id: 'g-g', snapshot_ids: ['s-v2', 's-v1'] });
  await assert.rejects(h.GetVolumeGroupSnapshot({ group_snapshot_id: 'g-none' }), (e) => errorCode(e) === 'CSI_GROUP_SNAPSHOT_NOT_FOUND');
  assert.deepEqual(await h.DeleteVolumeGroupSnapshot({ group_snapshot_id: 'g-none' }), {});
  await h.DeleteVolumeGroupSnapshot({ group_snapshot_id: 'g-g' });
  await assert.rejects(h.GetVolumeGroupSnapshot({ group_snapshot_id: 'g-g' }), (e) => errorCode(e) === 'CSI_GROUP_SNAPSHOT_NOT_FOUND');
});

test('Identity lists GROUP_CONTROLLER_SERVICE when served, SNAPSHOT_METADATA_SERVICE only when told to', async () => {
  const types = async (o: Parameters<typeof identityHandlers>[0]) => ((await identityHandlers(o).GetPluginCapabilities({})) as { capabilities: { service?: { type: string } }[] }).capabilities.map((c) => c.service?.type).filter(Boolean);
  assert.deepEqual(await types({ controller: true, ready: async () => true }), ['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS']);
  assert.deepEqual(await types({ controller: true, groupController: true, snapshotMetadata: true, ready: async () => true }), ['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS', 'GROUP_CONTROLLER_SERVICE', 'SNAPSHOT_METADATA_SERVICE']);
});
