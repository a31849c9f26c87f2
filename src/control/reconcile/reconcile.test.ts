import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpecLifecycle } from '../model/spec_common.ts';
import { readRecord, volumeIdFor, volumeKey, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import { newReplicaId } from '../service/replica_operations.ts';
import { finishPendingVolumes } from './reconcile_pending.ts';
import { replaceLostReplicas } from './reconcile_node_loss.ts';
import { createMissing } from './reconcile_missing.ts';
import { cleanOrphans } from './reconcile_orphans.ts';
import { ReconcileLoop } from './reconcile_loop.ts';
import { MiB, makeKit, type Kit } from './reconcile_test_kit.ts';

/** Leave a create pending as a crash right after "pending" would. */
async function crashedCreate(kit: Kit, name: string, nodeIds: string[]): Promise<string> {
  const ctx = kit.services.ctx;
  const id = volumeIdFor(name);
  const spec: StoredVolume = {
    id, name, sizeBytes: 8 * MiB, replicas: nodeIds.length, thin: true, requiredTags: [], excludedTags: [],
    spread: { domain: 'zone', strict: false }, encrypted: false, lifecycle: SpecLifecycle.Creating, createdAtMs: kit.clock.now,
  };
  const replicas = nodeIds.map((n) => ({ id: newReplicaId(), poolId: `${n}:p`, nodeId: n }));
  await ctx.volumes.begin(volumeKey(id), { type: 'create', spec, replicas });
  return id;
}

test('pending_volume_intents: a crashed create is finished once its engine answers', async () => {
  const kit = await makeKit(2);
  try {
    const id = await crashedCreate(kit, 'pvc-a', ['n1']);
    kit.engines.get('n1')!.down = true;
    assert.equal(await finishPendingVolumes.run(kit.services.ctx), 0, 'unreachable engine: stays pending');
    assert.ok((await readRecord(kit.services.ctx.store, volumeKey(id)))?.record.pending);
    kit.engines.get('n1')!.down = false;
    assert.equal(await finishPendingVolumes.run(kit.services.ctx), 1);
    const rec = await readRecord<StoredVolume, VolumeOp>(kit.services.ctx.store, volumeKey(id));
    assert.equal(rec?.record.pending, null);
    assert.equal(rec?.record.spec?.lifecycle, 'created');
    assert.equal(kit.engines.get('n1')!.replicaNames().length, 1);
    assert.equal(await finishPendingVolumes.run(kit.services.ctx), 0, 'nothing left to do');
  } finally {
    await kit.close();
  }
});

test('pending_volume_intents: a create the engine refuses for good is undone and rolled back', async () => {
  const kit = await makeKit(2);
  try {
    const id = await crashedCreate(kit, 'pvc-b', ['n1', 'n2']);
    kit.engines.get('n2')!.failNextCreate = 'NO_SPACE';
    assert.equal(await finishPendingVolumes.run(kit.services.ctx), 1);
    assert.equal(await readRecord(kit.services.ctx.store, volumeKey(id)), undefined, 'no record left');
    assert.deepEqual(kit.engines.get('n1')!.replicaNames(), [], 'the replica made on n1 was removed');
  } finally {
    await kit.close();
  }
});

test('service: a create whose engine fails is rolled back; the same name then works', async () => {
  const kit = await makeKit(1);
  try {
    kit.engines.get('n1')!.failNextCreate = 'NO_SPACE';
    await assert.rejects(kit.services.volumes.create({ name: 'pvc-c', sizeBytes: 4 * MiB }), { code: 'NO_SPACE' });
    assert.equal(await readRecord(kit.services.ctx.store, volumeKey(volumeIdFor('pvc-c'))), undefined);
    const { created } = await kit.services.volumes.create({ name: 'pvc-c', sizeBytes: 4 * MiB });
    assert.equal(created, true);
    await assert.rejects(kit.services.volumes.create({ name: 'pvc-c', sizeBytes: 4 * MiB, thin: false }), { code: 'VOLUME_EXISTS' });
    await assert.rejects(kit.services.volumes.create({ name: 'pvc-d', sizeBytes: 4 * MiB, replicas: 2 }), { code: 'PLACEMENT_FAILED' });
  } finally {
    await kit.close();
  }
});

test('service: concurrent creates of one name make one volume', async () => {
  const kit = await makeKit(1);
  try {
    const results = await Promise.all([1, 2, 3].map(() => kit.services.volumes.create({ name: 'pvc-same', sizeBytes: 4 * MiB })));
    assert.deepEqual(results.map((r) => r.created).sort(), [false, false, true]);
    assert.equal(kit.engines.get('n1')!.replicaNames().length, 1);
  } finally {
    await kit.close();
  }
});

test('node_loss: after the grace period a replica on a lost node is faulted and replaced elsewhere', async () => {
  const kit = await makeKit(4, { heartbeatDeadlineMs: 1000, nodeLossGraceMs: 5000 });
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-r2', sizeBytes: 8 * MiB, replicas: 2 });
    const single = (await kit.services.volumes.create({ name: 'pvc-r1', sizeBytes: 8 * MiB })).volume;
    const replicas = await kit.services.replicas.list({ volumeId: volume.id });
    const singleNode = (await kit.services.replicas.list({ volumeId: single.id }))[0].nodeId;
    assert.ok(!replicas.some((r) => r.nodeId === singleNode), 'least used: the single replica went to a third node');
    const victims = [replicas[0].nodeId, singleNode];
    const survivors = ['n1', 'n2', 'n3', 'n4'].filter((n) => !victims.includes(n));
    kit.clock.now += 3000;
    for (const n of survivors) await kit.beat(n);
    assert.equal(await replaceLostReplicas.run(ctx), 0, 'offline but within the grace period: nothing replaced');
    kit.clock.now += 5000;
    for (const n of survivors) await kit.beat(n);
    assert.equal(await replaceLostReplicas.run(ctx), 3, 'two replicas faulted, one replacement placed');
    const after = await kit.services.replicas.list({ volumeId: volume.id });
    assert.equal(after.filter((r) => r.status === 'faulted').length, 1);
    const replacement = after.find((r) => r.lifecycle === 'creating');
    assert.ok(replacement);
    assert.ok(survivors.includes(replacement.nodeId));
    assert.ok(!replicas.some((r) => r.nodeId === replacement.nodeId), 'a node the volume did not use');
    const s = await kit.services.replicas.list({ volumeId: single.id });
    assert.deepEqual(s.map((r) => r.status), ['faulted'], 'a single replica is not replaced by an empty one');
    assert.equal((await kit.services.volumes.get(single.id)).volume.lifecycle, 'created');
    assert.equal(await createMissing.run(ctx), 1);
    assert.ok(kit.engines.get(replacement.nodeId)!.replicaNames().includes(replacement.id));
    assert.equal((await kit.services.replicas.get(replacement.id)).status, 'rebuilding', 'empty until the nexus rebuilds it');
    assert.equal(await replaceLostReplicas.run(ctx), 0, 'idempotent');
    // The lost node comes back: its faulted copy stays while the replacement awaits its rebuild.
    await kit.beat(victims[0]);
    const faulted = after.find((r) => r.status === 'faulted')!;
    assert.equal(await cleanOrphans({ minAgeMs: 0 }).run(ctx), 0);
    assert.ok(kit.engines.get(victims[0])!.replicaNames().includes(faulted.id));
    assert.equal((await kit.services.replicas.get(faulted.id)).status, 'faulted');
  } finally {
    await kit.close();
  }
});

test('create_missing: a published volume whose export vanished is exported again', async () => {
  const kit = await makeKit(1);
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-pub', sizeBytes: 4 * MiB });
    const published = await kit.services.publish.publish(volume.id, { nodeId: 'n1' });
    assert.deepEqual(kit.engines.get('n1')!.exports.get(`p/${published.target!.replicaId}`)?.allowedInitiators, ['iqn.2026-11.io.test:n1']);
    kit.engines.get('n1')!.exports.clear();
    assert.equal(await createMissing.run(ctx), 1);
    assert.equal(kit.engines.get('n1')!.exports.size, 1);
    assert.equal(await createMissing.run(ctx), 0);
  } finally {
    await kit.close();
  }
});

test('orphans: unclaimed r- replicas are removed, claimed and operator volumes are kept', async () => {
  const kit = await makeKit(1);
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-keep', sizeBytes: 4 * MiB });
    const pendingId = await crashedCreate(kit, 'pvc-pending', ['n1']);
    const e = kit.engines.get('n1')!;
    await e.createReplica({ pool: 'p', name: 'r-stray', sizeBytes: MiB, thin: true });
    await e.createReplica({ pool: 'p', name: 'operator-volume', sizeBytes: MiB, thin: true });
    const pendingRec = await readRecord<StoredVolume, VolumeOp>(ctx.store, volumeKey(pendingId));
    const op = pendingRec!.record.pending!.op;
    assert.equal(op.type, 'create');
    const planned = op.type === 'create' ? op.replicas[0].id : '';
    await e.createReplica({ pool: 'p', name: planned, sizeBytes: 8 * MiB, thin: true });
    const sweep = cleanOrphans({ minAgeMs: 0, intervalMs: 1000 });
    assert.equal(await sweep.run(ctx), 1);
    await e.createReplica({ pool: 'p', name: 'r-stray2', sizeBytes: MiB, thin: true });
    assert.equal(await sweep.run(ctx), 0, 'too soon after the last pass');
    kit.clock.now += 1000;
    assert.equal(await sweep.run(ctx), 1);
    const left = e.replicaNames();
    assert.ok(!left.includes('r-stray'));
    assert.ok(left.includes('operator-volume'));
    assert.ok(left.includes(planned), 'a replica of a pending create is not an orphan');
    const kept = (await kit.services.replicas.list({ volumeId: volume.id }))[0].id;
    assert.ok(left.includes(kept));
    await e.createReplica({ pool: 'p', name: 'r-young', sizeBytes: MiB, thin: true });
    const young = await cleanOrphans({ minAgeMs: 10 * kit.clock.now }).run(ctx);
    assert.equal(young, 0);
  } finally {
    await kit.close();
  }
});

test('reconcile loop: a failing reconciler backs off, doubling, and recovers', async () => {
  const kit = await makeKit(1);
  try {
    let calls = 0;
    let fail = true;
    const flaky = { name: 'flaky', run: async () => { calls++; if (fail) throw new Error('boom'); return 1; } };
    const loop = new ReconcileLoop(kit.services.ctx, [flaky], { baseBackoffMs: 1000, maxBackoffMs: 4000 });
    assert.equal((await loop.runOnce())[0].error, 'boom');
    assert.deepEqual(await loop.runOnce(), [{ name: 'flaky' }], 'skipped while backing off');
    kit.clock.now += 1000;
    await loop.runOnce();
    assert.equal(calls, 2);
    kit.clock.now += 1000;
    await loop.runOnce();
    assert.equal(calls, 2, 'second failure waits 2 s');
    kit.clock.now += 1000;
    fail = false;
    assert.equal((await loop.runOnce())[0].changed, 1);
    assert.equal((await loop.runOnce())[0].changed, 1, 'success resets the backoff');
  } finally {
    await kit.close();
  }
});

test('service: what engines cannot do yet is NOT_IMPLEMENTED and leaves nothing pending', async () => {
  const kit = await makeKit(2);
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-two', sizeBytes: 4 * MiB, replicas: 2 });
    assert.equal(kit.engines.get('n1')!.replicaNames().length + kit.engines.get('n2')!.replicaNames().length, 2, 'both replicas made');
    await assert.rejects(kit.services.snapshots.create({ name: 'snap-1', volumeId: volume.id }), { code: 'NOT_IMPLEMENTED' });
    assert.deepEqual(await kit.services.snapshots.list(), []);
    assert.equal((await ctx.volumes.pending('berth/v1/')).length, 0);
    await assert.rejects(kit.services.volumes.create({ name: 'pvc-enc', sizeBytes: 4 * MiB, encrypted: true }), { code: 'NOT_IMPLEMENTED' });
  } finally {
    await kit.close();
  }
});
