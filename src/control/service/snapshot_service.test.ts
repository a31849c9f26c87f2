import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, makeKit, pendingSnapshotCreate, publishedVolume, snapshotCopyCount, takeNodeOffline, type Kit } from '../reconcile/reconcile_test_kit.ts';
import { errorCode } from '../../util/errors.ts';
import { finishPendingSnapshots } from '../reconcile/reconcile_pending.ts';
import { readRecord, snapshotIdFor, snapshotKey } from './service_records.ts';

const published = publishedVolume;
const takeOffline = takeNodeOffline;
const copies = snapshotCopyCount;

async function opPending(kit: Kit, id: string): Promise<string | undefined> {
  return (await readRecord<unknown, { type: string }>(kit.store, snapshotKey(id)))?.record.pending?.op.type;
}

test('a crash-pending snapshot create is not rolled back while a copy\'s node is offline (its copy would leak); once it is back, every copy goes', async () => {
  const kit = await makeKit(3);
  try {
    for (const e of kit.engines.values()) e.snapshotsEnabled = true;
    const v = await published(kit, 'pvc-s1');
    await pendingSnapshotCreate(kit, 'snap-o', v.id);
    const id = snapshotIdFor('snap-o');
    assert.equal(await opPending(kit, id), 'create');
    assert.equal(copies(kit), 2, 'both copies were cut');
    await takeOffline(kit, v.nodes[1]);
    assert.equal(await finishPendingSnapshots.run(kit.services.ctx), 0, 'left pending while a copy\'s node is away');
    assert.equal(kit.engines.get(v.nodes[1])!.snapshots.size, 1, 'the offline node still holds its copy');
    assert.equal(await opPending(kit, id), 'create', 'still pending');
    await kit.beat(v.nodes[1]);
    assert.equal(await finishPendingSnapshots.run(kit.services.ctx), 1);
    assert.equal(copies(kit), 0, 'no copy left on any engine');
    assert.equal(await readRecord(kit.store, snapshotKey(id)), undefined);
    assert.equal((await kit.services.snapshots.create({ name: 'snap-o', volumeId: v.id })).created, true);
  } finally {
    await kit.close();
  }
});

test('a snapshot delete with a copy on an offline node stays pending (NODE_OFFLINE); the reconciler finishes it once the node is back', async () => {
  const kit = await makeKit(3);
  try {
    for (const e of kit.engines.values()) e.snapshotsEnabled = true;
    const v = await published(kit, 'pvc-s2');
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-d', volumeId: v.id });
    assert.equal(copies(kit), 2);
    await takeOffline(kit, v.nodes[1]);
    await assert.rejects(kit.services.snapshots.delete(snapshot.id), (e) => errorCode(e) === 'NODE_OFFLINE');
    assert.equal(await opPending(kit, snapshot.id), 'delete', 'the delete is still pending, not committed nor rolled back');
    assert.equal(kit.engines.get(v.nodes[1])!.snapshots.size, 1, 'the offline node still holds its copy');
    await assert.rejects(kit.services.snapshots.create({ name: 'snap-d', volumeId: v.id }), (e) => errorCode(e) === 'OPERATION_IN_PROGRESS');
    await assert.rejects(
      kit.services.volumes.create({ name: 'pvc-from-d', sizeBytes: 4 * MiB, replicas: 1, sourceSnapshotId: snapshot.id }),
      (e) => errorCode(e) === 'SNAPSHOT_NOT_FOUND', 'no restore from a snapshot being deleted',
    );
    assert.equal(await finishPendingSnapshots.run(kit.services.ctx), 0, 'still away');
    await kit.beat(v.nodes[1]);
    assert.equal(await finishPendingSnapshots.run(kit.services.ctx), 1);
    assert.equal(copies(kit), 0, 'no copy left on any engine');
    assert.equal(await readRecord(kit.store, snapshotKey(snapshot.id)), undefined);
    await kit.services.snapshots.delete(snapshot.id);
  } finally {
    await kit.close();
  }
});

test('a retried snapshot delete finishes the pending one; a copy on a node lost past its grace period is given up', async () => {
  const kit = await makeKit(3);
  try {
    for (const e of kit.engines.values()) e.snapshotsEnabled = true;
    const v = await published(kit, 'pvc-s3');
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-l', volumeId: v.id });
    await takeOffline(kit, v.nodes[1]);
    await assert.rejects(kit.services.snapshots.delete(snapshot.id), (e) => errorCode(e) === 'NODE_OFFLINE');
    assert.equal(kit.engines.get(v.nodes[0])!.snapshots.size, 0, 'the online copy went at once');
    await takeOffline(kit, v.nodes[1], 300_000);
    assert.ok(kit.services.ctx.registry.lost(kit.clock.now).includes(v.nodes[1]));
    await kit.services.snapshots.delete(snapshot.id);
    assert.equal(await readRecord(kit.store, snapshotKey(snapshot.id)), undefined);
  } finally {
    await kit.close();
  }
});
