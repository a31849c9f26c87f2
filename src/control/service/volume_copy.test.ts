import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, makeKit } from '../reconcile/reconcile_test_kit.ts';
import { reconcileNexusReplicas } from '../reconcile/reconcile_nexus_replicas.ts';

test('clone into 2 replicas: one seeded in the source\'s pool, one blank awaiting its rebuild, which the first nexus does', async () => {
  const kit = await makeKit(3);
  try {
    const { volume: src } = await kit.services.volumes.create({ name: 'pvc-src', sizeBytes: 4 * MiB, replicas: 1 });
    const srcPool = (await kit.services.replicas.list({ volumeId: src.id }))[0].poolId;
    const { volume: clone } = await kit.services.volumes.create({ name: 'pvc-clone', sizeBytes: 4 * MiB, replicas: 2, sourceVolumeId: src.id });
    const replicas = await kit.services.replicas.list({ volumeId: clone.id });
    assert.equal(replicas.length, 2);
    const seed = replicas.find((r) => r.poolId === srcPool);
    const blank = replicas.find((r) => r.poolId !== srcPool);
    assert.ok(seed && blank, JSON.stringify(replicas));
    assert.notEqual(seed.awaitingRebuild, true, 'the copy holds the data');
    assert.equal(blank.awaitingRebuild, true, 'the blank one waits for a rebuild');
    assert.notEqual(blank.nodeId, seed.nodeId, 'spread from the seed');

    // Published on the blank replica's node: the nexus still runs where the data is, and the blank joins stale.
    const pub = await kit.services.publish.publish(clone.id, { nodeId: blank.nodeId });
    assert.equal(pub.nexus?.nodeId, seed.nodeId);
    const nexus = kit.engines.get(seed.nodeId)!.nexuses.get(clone.id)!;
    assert.deepEqual(nexus.replicas.map((c) => [c.volume, c.state]).sort(), [[seed.id, 'online'], [blank.id, 'stale']].sort());
    // Rebuilt: the engine reports it online and the mark is cleared.
    (nexus.replicas.find((c) => c.volume === blank.id) as { state: string }).state = 'online';
    assert.equal(await reconcileNexusReplicas.run(kit.services.ctx), 1);
    assert.equal((await kit.services.replicas.list({ volumeId: clone.id })).find((r) => r.id === blank.id)?.awaitingRebuild, undefined);
  } finally {
    await kit.close();
  }
});

test('a snapshot skips replicas awaiting their rebuild; a restore into 2 replicas plans as a clone does', async () => {
  const kit = await makeKit(3);
  try {
    const { volume: src } = await kit.services.volumes.create({ name: 'pvc-src', sizeBytes: 4 * MiB, replicas: 1 });
    const { volume: clone } = await kit.services.volumes.create({ name: 'pvc-clone', sizeBytes: 4 * MiB, replicas: 2, sourceVolumeId: src.id });
    const seed = (await kit.services.replicas.list({ volumeId: clone.id })).find((r) => r.awaitingRebuild !== true)!;
    for (const e of kit.engines.values()) (e as unknown as { createSnapshot: () => Promise<{ name: string }> }).createSnapshot = async () => ({ name: 's' });
    const { snapshot } = await kit.services.snapshots.create({ name: 'snap-1', volumeId: clone.id });
    assert.deepEqual(snapshot.replicaSnapshots.map((c) => c.replicaId), [seed.id], 'only the copy that holds the data');
    const { volume: restored } = await kit.services.volumes.create({ name: 'pvc-restored', sizeBytes: 4 * MiB, replicas: 2, sourceSnapshotId: snapshot.id });
    const rs = await kit.services.replicas.list({ volumeId: restored.id });
    assert.deepEqual(rs.map((r) => [r.poolId === seed.poolId, r.awaitingRebuild === true]).sort(), [[false, true], [true, false]]);
  } finally {
    await kit.close();
  }
});

test('growing a published 2-replica volume grows every replica and recreates its nexus at the new size, generation + 1', async () => {
  const kit = await makeKit(3);
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-grow', sizeBytes: 4 * MiB, replicas: 2 });
    const nodes = (await kit.services.replicas.list({ volumeId: volume.id })).map((r) => r.nodeId);
    await kit.services.publish.publish(volume.id, { nodeId: nodes[0] });
    const engine = kit.engines.get(nodes[0])!;
    const calls: { sizeBytes?: number; generation?: number }[] = [];
    const create = engine.createNexus.bind(engine);
    engine.createNexus = async (req) => { calls.push(req); return await create(req); };
    const grown = await kit.services.volumes.resize(volume.id, 8 * MiB);
    assert.equal(grown.sizeBytes, 8 * MiB);
    assert.equal(grown.nexus?.generation, 2);
    assert.deepEqual(calls.map((c) => [c.sizeBytes, c.generation]), [[8 * MiB, 2]]);
    assert.equal(engine.nexuses.get(volume.id)?.generation, 2);
    assert.equal(grown.target?.iqn, `iqn.2026-11.io.berth:vol-${volume.id}`, 'the same target name: the initiator reconnects');
    for (const r of await kit.services.replicas.list({ volumeId: volume.id })) assert.equal(r.sizeBytes, 8 * MiB);
  } finally {
    await kit.close();
  }
});
