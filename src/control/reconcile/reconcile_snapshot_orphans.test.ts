import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeKit, pendingSnapshotCreate, publishedVolume, snapshotCopyCount, takeNodeOffline } from './reconcile_test_kit.ts';
import { cleanSnapshotOrphans } from './reconcile_snapshot_orphans.ts';
import { snapshotIdFor } from '../service/service_records.ts';

const orphans = () => cleanSnapshotOrphans({ minAgeMs: 60_000, intervalMs: 0 });

test('a copy given up on a lost node is removed once the node comes back; committed snapshots\' copies stay', async () => {
  const kit = await makeKit(3);
  try {
    for (const e of kit.engines.values()) e.snapshotsEnabled = true;
    const v = await publishedVolume(kit, 'pvc-or1');
    const kept = await kit.services.snapshots.create({ name: 'snap-kept', volumeId: v.id });
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-gone', volumeId: v.id });
    await takeNodeOffline(kit, v.nodes[1]);
    await takeNodeOffline(kit, v.nodes[1], 300_000);
    assert.ok(kit.services.ctx.registry.lost(kit.clock.now).includes(v.nodes[1]));
    await kit.services.snapshots.delete(snapshot.id);
    const back = kit.engines.get(v.nodes[1])!;
    assert.ok(back.snapshots.has(`p/${snapshot.id}`), 'the lost node kept the copy the delete gave up');
    assert.equal(await orphans().run(kit.services.ctx), 0, 'an offline node is not listed');
    await kit.beat(v.nodes[1]);
    assert.equal(await orphans().run(kit.services.ctx), 1);
    assert.equal(back.snapshots.has(`p/${snapshot.id}`), false, 'the orphan copy is gone');
    assert.equal(snapshotCopyCount(kit), kept.snapshot.replicaSnapshots.length, 'the committed snapshot keeps every copy');
    assert.equal(await orphans().run(kit.services.ctx), 0);
  } finally {
    await kit.close();
  }
});

test('never removed: a copy a pending create may still commit, a young copy, a snapshot the control plane did not name', async () => {
  const kit = await makeKit(3);
  try {
    for (const e of kit.engines.values()) e.snapshotsEnabled = true;
    const v = await publishedVolume(kit, 'pvc-or2');
    await pendingSnapshotCreate(kit, 'snap-pending', v.id);
    const n1 = kit.engines.get(v.nodes[0])!;
    n1.snapshots.set('p/my-backup', 'x');
    const young = snapshotIdFor('young-orphan');
    n1.snapshots.set(`p/${young}`, 'x');
    n1.snapshotTimes.set(`p/${young}`, new Date(kit.clock.now - 1_000).toISOString());
    const before = snapshotCopyCount(kit);
    assert.equal(await orphans().run(kit.services.ctx), 0);
    assert.equal(snapshotCopyCount(kit), before);
    assert.ok(n1.snapshots.has(`p/${snapshotIdFor('snap-pending')}`), 'the pending create\'s copy stays');
    kit.clock.now += 120_000;
    for (const n of kit.engines.keys()) await kit.beat(n);
    assert.equal(await orphans().run(kit.services.ctx), 1, 'only the now old unnamed copy');
    assert.equal(n1.snapshots.has(`p/${young}`), false);
    assert.ok(n1.snapshots.has('p/my-backup'), 'an operator\'s snapshot is never touched');
  } finally {
    await kit.close();
  }
});
