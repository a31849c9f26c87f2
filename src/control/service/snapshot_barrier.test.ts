import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, makeKit, type Kit } from '../reconcile/reconcile_test_kit.ts';
import { errorCode } from '../../util/errors.ts';
import { finishPendingGroupSnapshots } from '../reconcile/reconcile_pending_groups.ts';
import { EngineTimeoutError, NotImplementedError } from '../engine_client/engine_client_errors.ts';

function enableSnapshots(kit: Kit): string[] {
  const trace: string[] = [];
  for (const e of kit.engines.values()) {
    e.snapshotsEnabled = true;
    // One trace for the whole cluster, in call order.
    (e as unknown as { trace: string[] }).trace.push = (...items: string[]) => trace.push(...items);
  }
  return trace;
}

/**
 * Checks the flushes before a barrier: one per pause, of the same nexus or export, every
 * one before the first pause (inside it, one volume's flush would lengthen every pause of
 * a group). Returns the trace without them.
 */
function afterFlushes(trace: readonly string[]): string[] {
  const firstPause = trace.findIndex((t) => t.startsWith('pause '));
  const lastFlush = trace.findLastIndex((t) => t.startsWith('flush '));
  assert.ok(firstPause >= 0 && lastFlush < firstPause, `a flush after a pause: ${JSON.stringify(trace)}`);
  const named = (kind: string): string[] => trace.filter((t) => t.startsWith(`${kind} `)).map((t) => t.slice(kind.length + 1)).sort();
  assert.deepEqual(named('flush'), named('pause'), `each paused volume flushed first: ${JSON.stringify(trace)}`);
  return trace.filter((t) => !t.startsWith('flush '));
}

async function publishedVolume(kit: Kit, name: string, replicas: number): Promise<{ id: string; nexusNode: string }> {
  const { volume } = await kit.services.volumes.create({ name, sizeBytes: 4 * MiB, replicas });
  const node = (await kit.services.replicas.list({ volumeId: volume.id }))[0].nodeId;
  const pub = await kit.services.publish.publish(volume.id, { nodeId: node });
  return { id: volume.id, nexusNode: pub.nexus?.nodeId ?? node };
}

test('snapshot of a published 2-replica volume: the nexus is paused, both replicas cut, then resumed', async () => {
  const kit = await makeKit(3);
  try {
    const trace = enableSnapshots(kit);
    const v = await publishedVolume(kit, 'pvc-a', 2);
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-a', volumeId: v.id });
    assert.equal(snapshot.replicaSnapshots.length, 2);
    assert.deepEqual(afterFlushes(trace).map((t) => t.split(' ')[0]), ['pause', 'snap', 'snap', 'resume']);
  } finally {
    await kit.close();
  }
});

test('a flush before the pause that fails (an older engine, a timeout) does not fail the snapshot', async () => {
  const kit = await makeKit(3);
  try {
    const trace = enableSnapshots(kit);
    const v = await publishedVolume(kit, 'pvc-nf', 2);
    const solo = await publishedVolume(kit, 'pvc-nf1', 1);
    const flushes: string[] = [];
    for (const e of kit.engines.values()) {
      e.flushNexus = async (name) => { flushes.push(name); throw new NotImplementedError('flushing before a pause'); };
      e.flushExport = async (_pool, volume) => { flushes.push(volume); throw new EngineTimeoutError(e.endpoint, 1); };
    }
    trace.length = 0;
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-nf', volumeId: v.id });
    assert.equal(snapshot.replicaSnapshots.length, 2);
    assert.deepEqual(trace.map((t) => t.split(' ')[0]), ['pause', 'snap', 'snap', 'resume']);
    const one = await kit.services.snapshots.create({ name: 'snap-nf1', volumeId: solo.id });
    assert.equal(one.snapshot.replicaSnapshots.length, 1);
    assert.equal(flushes.length, 2, 'both flushes were tried');
  } finally {
    await kit.close();
  }
});

test('a degraded volume is cut on the replicas its nexus names in sync, not on what the record says', async () => {
  const kit = await makeKit(3);
  try {
    enableSnapshots(kit);
    const v = await publishedVolume(kit, 'pvc-d', 2);
    const nexus = kit.engines.get(v.nexusNode)!.nexuses.get(v.id)!;
    const faulted = nexus.replicas[1];
    (faulted as { state: string }).state = 'faulted';
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-d', volumeId: v.id });
    assert.deepEqual(snapshot.replicaSnapshots.map((c) => c.replicaId), [nexus.replicas[0].volume]);
  } finally {
    await kit.close();
  }
});

test('a pause lost to its lease fails the snapshot, removes every copy, and leaves no record', async () => {
  const kit = await makeKit(3);
  try {
    enableSnapshots(kit);
    const v = await publishedVolume(kit, 'pvc-l', 2);
    kit.engines.get(v.nexusNode)!.loseNextPause = true;
    await assert.rejects(kit.services.snapshots.create({ name: 'snap-l', volumeId: v.id }), (e) => errorCode(e) === 'SNAPSHOT_BARRIER_LOST');
    for (const e of kit.engines.values()) assert.equal(e.snapshots.size, 0, `no copy left on ${e.endpoint}`);
    assert.deepEqual(await kit.services.snapshots.list(), []);
    // A retry cuts it cleanly.
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-l', volumeId: v.id });
    assert.equal(snapshot.replicaSnapshots.length, 2);
  } finally {
    await kit.close();
  }
});

test('group snapshot: every nexus paused before any copy, resumed after the last; members restore like snapshots; delete removes all', async () => {
  const kit = await makeKit(3);
  try {
    const trace = enableSnapshots(kit);
    const a = await publishedVolume(kit, 'pvc-g1', 2);
    const b = await publishedVolume(kit, 'pvc-g2', 3);
    const { group, created } = await kit.services.groupSnapshots.create({ name: 'grp-1', volumeIds: [a.id, b.id] });
    assert.equal(created, true);
    const kinds = afterFlushes(trace).map((t) => t.split(' ')[0]);
    assert.equal(kinds.lastIndexOf('pause'), 1, JSON.stringify(trace));
    assert.equal(kinds.indexOf('snap'), 2);
    assert.equal(kinds.filter((k) => k === 'snap').length, 5);
    assert.deepEqual(kinds.slice(-2), ['resume', 'resume']);
    const members = await kit.services.groupSnapshots.members(group);
    assert.deepEqual(members.map((m) => [m.volumeId, m.groupId, m.replicaSnapshots.length]), [[a.id, group.id, 2], [b.id, group.id, 3]]);
    const again = await kit.services.groupSnapshots.create({ name: 'grp-1', volumeIds: [b.id, a.id] });
    assert.equal(again.created, false);
    await assert.rejects(kit.services.groupSnapshots.create({ name: 'grp-1', volumeIds: [a.id] }), (e) => errorCode(e) === 'GROUP_SNAPSHOT_EXISTS');
    const { volume: restored } = await kit.services.volumes.create({ name: 'pvc-r', sizeBytes: 4 * MiB, replicas: 1, sourceSnapshotId: members[0].id });
    assert.equal(restored.sourceSnapshotId, members[0].id);
    await kit.services.groupSnapshots.delete(group.id);
    await kit.services.groupSnapshots.delete(group.id);
    assert.deepEqual((await kit.services.snapshots.list()).map((s) => s.id), []);
    for (const e of kit.engines.values()) assert.equal(e.snapshots.size, 0);
    await assert.rejects(kit.services.groupSnapshots.get(group.id), (e) => errorCode(e) === 'GROUP_SNAPSHOT_NOT_FOUND');
  } finally {
    await kit.close();
  }
});

test('group snapshot: a failed cut removes the copies of every member; single-replica volumes are held at their exports', async () => {
  const kit = await makeKit(3);
  try {
    const trace = enableSnapshots(kit);
    const a = await publishedVolume(kit, 'pvc-f1', 2);
    const b = await publishedVolume(kit, 'pvc-f2', 2);
    const broken = kit.engines.get(b.nexusNode)!;
    const create = broken.createSnapshot.bind(broken);
    broken.createSnapshot = async () => { throw Object.assign(new Error('disk gone'), { code: 'POOL_FAULTED' }); };
    await assert.rejects(kit.services.groupSnapshots.create({ name: 'grp-f', volumeIds: [a.id, b.id] }));
    for (const e of kit.engines.values()) assert.equal(e.snapshots.size, 0, `no copy left on ${e.endpoint}`);
    assert.deepEqual(await kit.services.groupSnapshots.list(), []);
    assert.equal(await finishPendingGroupSnapshots.run(kit.services.ctx), 0, 'nothing left pending');
    broken.createSnapshot = create;

    // Two single-replica volumes published straight from their engines: each export is paused.
    const s1 = await publishedVolume(kit, 'pvc-s1', 1);
    const s2 = await publishedVolume(kit, 'pvc-s2', 1);
    trace.length = 0;
    const { group } = await kit.services.groupSnapshots.create({ name: 'grp-s', volumeIds: [s1.id, s2.id] });
    const replicaOf = async (id: string): Promise<string> => (await kit.services.replicas.list({ volumeId: id }))[0].id;
    const [r1, r2] = [await replicaOf(s1.id), await replicaOf(s2.id)];
    const held = afterFlushes(trace);
    assert.deepEqual(held.slice(0, 2).sort(), [`pause ${r1}`, `pause ${r2}`].sort(), JSON.stringify(trace));
    assert.deepEqual(held.slice(2, 4).map((t) => t.split(' ')[0]), ['snap', 'snap']);
    assert.deepEqual(held.slice(4).sort(), [`resume ${r1}`, `resume ${r2}`].sort());
    assert.deepEqual((await kit.services.groupSnapshots.members(group)).map((m) => m.replicaSnapshots.map((c) => c.replicaId)), [[r1], [r2]]);
  } finally {
    await kit.close();
  }
});

test('restoring a snapshot of a 2-replica volume seeds every replica from the copy in its own pool: no rebuild', async () => {
  const kit = await makeKit(3);
  try {
    enableSnapshots(kit);
    const v = await publishedVolume(kit, 'pvc-src2', 2);
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-2', volumeId: v.id });
    const copyPools = snapshot.replicaSnapshots.map((c) => c.poolId).sort();
    const { volume: two } = await kit.services.volumes.create({ name: 'pvc-r2', sizeBytes: 4 * MiB, replicas: 2, sourceSnapshotId: snapshot.id });
    const rs = await kit.services.replicas.list({ volumeId: two.id });
    assert.deepEqual(rs.map((r) => r.poolId).sort(), copyPools);
    assert.ok(rs.every((r) => r.awaitingRebuild !== true), 'both hold the data at once');
    const { volume: three } = await kit.services.volumes.create({ name: 'pvc-r3', sizeBytes: 4 * MiB, replicas: 3, sourceSnapshotId: snapshot.id });
    const r3 = await kit.services.replicas.list({ volumeId: three.id });
    assert.deepEqual(r3.map((r) => r.awaitingRebuild === true).sort(), [false, false, true], 'a third replica, with no copy in its pool, is rebuilt');
  } finally {
    await kit.close();
  }
});

test('a clone of a published 2-replica volume seeds both replicas from their own pools under one pause: no rebuild', async () => {
  const kit = await makeKit(3);
  try {
    const trace = enableSnapshots(kit);
    const v = await publishedVolume(kit, 'pvc-live', 2);
    for (const e of kit.engines.values()) {
      const create = e.createReplica.bind(e);
      e.createReplica = async (req) => {
        if (req.fromVolume !== undefined) trace.push(`clone ${req.fromVolume}`);
        return await create(req);
      };
    }
    const { volume: clone } = await kit.services.volumes.create({ name: 'pvc-clone2', sizeBytes: 4 * MiB, replicas: 2, sourceVolumeId: v.id });
    const sourcePools = (await kit.services.replicas.list({ volumeId: v.id })).map((r) => r.poolId).sort();
    const rs = await kit.services.replicas.list({ volumeId: clone.id });
    assert.deepEqual(rs.map((r) => r.poolId).sort(), sourcePools);
    assert.ok(rs.every((r) => r.awaitingRebuild !== true));
    assert.deepEqual(afterFlushes(trace).map((t) => t.split(' ')[0]), ['pause', 'clone', 'clone', 'resume']);
  } finally {
    await kit.close();
  }
});

test('a group create whose undo failed stays pending; the reconciler later removes every copy and member record and rolls back', async () => {
  const kit = await makeKit(3);
  try {
    enableSnapshots(kit);
    const a = await publishedVolume(kit, 'pvc-c1', 2);
    const b = await publishedVolume(kit, 'pvc-c2', 2);
    const services = kit.services;
    const bReplicas = new Set((await services.replicas.list({ volumeId: b.id })).map((r) => r.id));
    // b's copies fail (after a's were cut), and the undo cannot reach any engine to remove a's: as after a crash, the intent stays.
    const saved = [...kit.engines.values()].map((e) => ({ e, create: e.createSnapshot.bind(e), destroy: e.destroySnapshot.bind(e) }));
    for (const { e, create } of saved) {
      e.createSnapshot = async (req) => {
        if (bReplicas.has(req.volume)) throw Object.assign(new Error('pool faulted'), { code: 'POOL_FAULTED' });
        return await create(req);
      };
      e.destroySnapshot = async () => { throw Object.assign(new Error('unreachable'), { code: 'ENGINE_UNREACHABLE' }); };
    }
    await assert.rejects(services.groupSnapshots.create({ name: 'grp-crash', volumeIds: [a.id, b.id] }));
    assert.ok([...kit.engines.values()].reduce((n, e) => n + e.snapshots.size, 0) >= 2, 'a\'s copies are still there');
    await assert.rejects(services.groupSnapshots.create({ name: 'grp-crash', volumeIds: [a.id, b.id] }), (e) => errorCode(e) === 'OPERATION_IN_PROGRESS');
    for (const { e, create, destroy } of saved) { e.createSnapshot = create; e.destroySnapshot = destroy; }
    assert.equal(await finishPendingGroupSnapshots.run(services.ctx), 1);
    for (const e of kit.engines.values()) assert.equal(e.snapshots.size, 0, `no copy left on ${e.endpoint}`);
    assert.deepEqual(await services.groupSnapshots.list(), []);
    assert.deepEqual(await services.snapshots.list(), []);
    const { created } = await services.groupSnapshots.create({ name: 'grp-crash', volumeIds: [a.id, b.id] });
    assert.equal(created, true, 'the name is free again');
  } finally {
    await kit.close();
  }
});

test('no store read while writes are held: replicas and engines are looked up before any nexus pauses', async () => {
  const kit = await makeKit(3);
  try {
    const trace = enableSnapshots(kit);
    const a = await publishedVolume(kit, 'pvc-r1', 2);
    const b = await publishedVolume(kit, 'pvc-r2', 3);
    const get = kit.store.get.bind(kit.store);
    const list = kit.store.list.bind(kit.store);
    kit.store.get = (...args) => { trace.push('read'); return get(...args); };
    kit.store.list = (...args) => { trace.push('read'); return list(...args); };
    await kit.services.snapshots.create({ name: 'snap-r', volumeId: a.id });
    await kit.services.groupSnapshots.create({ name: 'grp-r', volumeIds: [a.id, b.id] });
    let paused = 0;
    for (const kind of trace.map((t) => t.split(' ')[0])) {
      if (kind === 'pause') paused++;
      if (kind === 'resume') paused--;
      assert.ok(kind !== 'read' || paused === 0, `a store read while writes were held: ${JSON.stringify(trace)}`);
      assert.ok(kind !== 'flush' || paused === 0, `a flush while writes were held: ${JSON.stringify(trace)}`);
    }
    assert.ok(trace.filter((t) => t.startsWith('pause')).length === 3);
    assert.ok(trace.filter((t) => t.startsWith('flush')).length === 3);
  } finally {
    await kit.close();
  }
});
