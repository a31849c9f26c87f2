import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeKit, publishedVolume, snapshotCopyCount, takeNodeOffline } from '../reconcile/reconcile_test_kit.ts';
import { errorCode } from '../../util/errors.ts';
import { finishPendingGroupSnapshots } from '../reconcile/reconcile_pending_groups.ts';
import { groupSnapshotIdFor, groupSnapshotKey } from './group_snapshot_service.ts';
import { readRecord } from './service_records.ts';

const published = publishedVolume;
const takeOffline = takeNodeOffline;
const copies = snapshotCopyCount;

test('a crash-pending group create is not rolled back while a copy\'s node is offline (its copy would leak); once it is back, every copy goes', async () => {
  const kit = await makeKit(3);
  try {
    for (const e of kit.engines.values()) e.snapshotsEnabled = true;
    const a = await published(kit, 'pvc-o1');
    const b = await published(kit, 'pvc-o2');
    // As after a kill -9 between the cut and the commit: a's copies exist, the intent stays pending.
    const bReplicas = new Set((await kit.services.replicas.list({ volumeId: b.id })).map((r) => r.id));
    const saved = [...kit.engines.values()].map((e) => ({ e, create: e.createSnapshot.bind(e), destroy: e.destroySnapshot.bind(e) }));
    for (const { e, create } of saved) {
      e.createSnapshot = async (req) => {
        if (bReplicas.has(req.volume)) throw Object.assign(new Error('gone'), { code: 'ENGINE_UNREACHABLE' });
        return await create(req);
      };
      e.destroySnapshot = async () => { throw Object.assign(new Error('gone'), { code: 'ENGINE_UNREACHABLE' }); };
    }
    await assert.rejects(kit.services.groupSnapshots.create({ name: 'grp-o', volumeIds: [a.id, b.id] }));
    for (const { e, create, destroy } of saved) { e.createSnapshot = create; e.destroySnapshot = destroy; }
    const left = copies(kit);
    assert.ok(left >= 2, 'a\'s copies were cut');
    await takeOffline(kit, a.nodes[1]);
    assert.equal(await finishPendingGroupSnapshots.run(kit.services.ctx), 0, 'left pending while a copy\'s node is away');
    assert.ok(kit.engines.get(a.nodes[1])!.snapshots.size >= 1, 'the offline node still holds its copy');
    const rec = await readRecord<unknown, { type: string }>(kit.store, groupSnapshotKey(groupSnapshotIdFor('grp-o')));
    assert.equal(rec?.record.pending?.op.type, 'create', 'still pending');
    await kit.beat(a.nodes[1]);
    assert.equal(await finishPendingGroupSnapshots.run(kit.services.ctx), 1);
    assert.equal(copies(kit), 0, 'no copy left on any engine');
    assert.deepEqual(await kit.services.snapshots.list(), []);
    assert.equal((await kit.services.groupSnapshots.create({ name: 'grp-o', volumeIds: [a.id, b.id] })).created, true);
  } finally {
    await kit.close();
  }
});

test('a group delete with a member copy on an offline node stays pending (NODE_OFFLINE); a retry once the node is back finishes it', async () => {
  const kit = await makeKit(3);
  try {
    for (const e of kit.engines.values()) e.snapshotsEnabled = true;
    const a = await published(kit, 'pvc-d1');
    const b = await published(kit, 'pvc-d2');
    const { group } = await kit.services.groupSnapshots.create({ name: 'grp-d', volumeIds: [a.id, b.id] });
    await takeOffline(kit, a.nodes[1]);
    await assert.rejects(kit.services.groupSnapshots.delete(group.id), (e) => errorCode(e) === 'NODE_OFFLINE');
    const rec = await readRecord<unknown, { type: string }>(kit.store, groupSnapshotKey(group.id));
    assert.equal(rec?.record.pending?.op.type, 'delete', 'the delete is still pending, not rolled back');
    assert.ok(kit.engines.get(a.nodes[1])!.snapshots.size >= 1, 'the offline node still holds its copies');
    await kit.beat(a.nodes[1]);
    await kit.services.groupSnapshots.delete(group.id);
    assert.equal(copies(kit), 0, 'no copy left on any engine');
    assert.equal(await readRecord(kit.store, groupSnapshotKey(group.id)), undefined);
    assert.deepEqual(await kit.services.snapshots.list(), []);
  } finally {
    await kit.close();
  }
});
