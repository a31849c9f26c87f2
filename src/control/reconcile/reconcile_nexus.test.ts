import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRecord, volumeKey, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import { finishPendingVolumes } from './reconcile_pending.ts';
import { replaceLostReplicas } from './reconcile_node_loss.ts';
import { createMissing } from './reconcile_missing.ts';
import { moveLostNexuses } from './reconcile_nexus_move.ts';
import { reconcileNexusReplicas } from './reconcile_nexus_replicas.ts';
import { cleanNexusOrphans } from './reconcile_nexus_orphans.ts';
import { MiB, makeKit, type Kit } from './reconcile_test_kit.ts';

const TIMING = { heartbeatDeadlineMs: 1000, nodeLossGraceMs: 5000 };

/** Moves the clock past the deadline and the grace period with every node but `gone` beating. */
async function loseNode(kit: Kit, gone: string): Promise<void> {
  for (const step of [3000, 5000]) {
    kit.clock.now += step;
    for (const n of kit.engines.keys()) if (n !== gone) await kit.beat(n);
  }
}

test('publish: a 2-replica volume gets a nexus on the publishing replica node, generation 1, exported to its initiator', async () => {
  const kit = await makeKit(3);
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-n', sizeBytes: 4 * MiB, replicas: 2 });
    const nodes = (await kit.services.replicas.list({ volumeId: volume.id })).map((r) => r.nodeId);
    const pub = await kit.services.publish.publish(volume.id, { nodeId: nodes[1] });
    assert.equal(pub.nexus?.nodeId, nodes[1], 'the publishing node holds a replica');
    assert.equal(pub.nexus?.generation, 1);
    const engine = kit.engines.get(nodes[1])!;
    const nexus = engine.nexuses.get(volume.id)!;
    assert.equal(nexus.generation, 1);
    assert.deepEqual(nexus.replicas.map((c) => c.state), ['online', 'online']);
    assert.ok(nexus.replicas.some((c) => c.node === `${nodes[1]}:9520`), 'its own replica is local');
    assert.deepEqual(engine.exports.get(`_nexus/${volume.id}`)?.allowedInitiators, [`iqn.2026-11.io.test:${nodes[1]}`]);
    assert.equal(pub.target?.iqn, `iqn.2026-11.io.berth:vol-${volume.id}`);
    assert.deepEqual(await kit.services.publish.publish(volume.id, { nodeId: nodes[1] }), pub, 'idempotent');
    assert.deepEqual((await kit.services.nexuses.list()).map((n) => n.id), [volume.id]);

    const off = await kit.services.publish.unpublish(volume.id);
    assert.equal(off.nexus, undefined);
    assert.equal(engine.nexuses.size, 0, 'nexus destroyed');
    assert.equal(engine.replicaNames().length, 1, 'replicas kept');
    const third = ['n1', 'n2', 'n3'].find((n) => !nodes.includes(n))!;
    const again = await kit.services.publish.publish(volume.id, { nodeId: third });
    assert.ok(nodes.includes(again.nexus!.nodeId), 'a node without a replica: the nexus goes to a replica node');
    assert.equal(again.nexus?.generation, 2, 'every new incarnation has a higher generation');
    await kit.services.publish.unpublish(volume.id);
    await kit.services.volumes.delete(volume.id);
    for (const e of kit.engines.values()) assert.deepEqual(e.replicaNames(), []);
  } finally {
    await kit.close();
  }
});

test('pending publish of a replicated volume is finished with the generation its intent recorded', async () => {
  const kit = await makeKit(2);
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-crash', sizeBytes: 4 * MiB, replicas: 2 });
    await ctx.volumes.begin(volumeKey(volume.id), {
      type: 'publish-nexus', nodeId: 'n1', initiatorIqn: 'iqn.2026-11.io.test:n1', targetIqn: `iqn.2026-11.io.berth:vol-${volume.id}`, nexusNodeId: 'n2', generation: 7,
    });
    assert.equal(await finishPendingVolumes.run(ctx), 1);
    const rec = await readRecord<StoredVolume, VolumeOp>(ctx.store, volumeKey(volume.id));
    assert.equal(rec?.record.pending, null);
    assert.equal(rec?.record.spec?.nexus?.nodeId, 'n2');
    assert.equal(rec?.record.spec?.nexusGeneration, 7);
    assert.equal(kit.engines.get('n2')!.nexuses.get(volume.id)?.generation, 7);
  } finally {
    await kit.close();
  }
});

test('healing: a lost replica is replaced, added to the live nexus, and online once rebuilt; a lost nexus node moves it with generation + 1', async () => {
  const kit = await makeKit(4, TIMING);
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-heal', sizeBytes: 4 * MiB, replicas: 2 });
    const [a, b] = (await kit.services.replicas.list({ volumeId: volume.id })).map((r) => r.nodeId);
    await kit.services.publish.publish(volume.id, { nodeId: a });

    // Given the node of the replica that is not the nexus's is lost…
    await loseNode(kit, b);
    assert.equal(await replaceLostReplicas.run(ctx), 2, 'one faulted, one replacement placed');
    assert.equal(await moveLostNexuses.run(ctx), 0, 'the nexus node is fine');
    assert.equal(await createMissing.run(ctx), 1);
    assert.equal(await reconcileNexusReplicas.run(ctx), 2, 'faulted one removed, replacement added');
    const nexus = () => kit.engines.get(a)!.nexuses.get(volume.id)!;
    const replacement = (await kit.services.replicas.list({ volumeId: volume.id })).find((r) => r.status === 'rebuilding')!;
    assert.deepEqual(nexus().replicas.map((c) => [c.volume, c.state]).sort(), [
      [replacement.id, 'rebuilding'], [(await kit.services.replicas.list({ volumeId: volume.id })).find((r) => r.nodeId === a)!.id, 'online'],
    ].sort());
    assert.equal(await reconcileNexusReplicas.run(ctx), 0, 'still rebuilding');
    kit.engines.get(a)!.finishRebuilds(volume.id);
    assert.equal(await reconcileNexusReplicas.run(ctx), 1);
    assert.equal((await kit.services.replicas.get(replacement.id)).status, 'online');
    assert.equal((await kit.services.volumes.get(volume.id)).volume.replicas, 2);

    // …then the nexus's own node is lost: recreated on the replacement's node, fencing with generation 2.
    await loseNode(kit, a);
    kit.engines.get(a)!.down = true;
    await replaceLostReplicas.run(ctx);
    assert.equal(await moveLostNexuses.run(ctx), 1);
    const moved = (await readRecord<StoredVolume>(ctx.store, volumeKey(volume.id)))!.record.spec!;
    assert.equal(moved.nexus?.nodeId, replacement.nodeId);
    assert.equal(moved.nexus?.generation, 2);
    assert.equal(moved.publishedNodeId, a, 'still published to the same initiator');
    const there = kit.engines.get(replacement.nodeId)!;
    assert.equal(there.nexuses.get(volume.id)?.generation, 2);
    assert.deepEqual(there.exports.get(`_nexus/${volume.id}`)?.allowedInitiators, [`iqn.2026-11.io.test:${a}`]);
    assert.equal(await moveLostNexuses.run(ctx), 0, 'idempotent');
    await createMissing.run(ctx);
    assert.equal(await reconcileNexusReplicas.run(ctx), 1, 'the next replacement joins the moved nexus');
    assert.equal(there.nexuses.get(volume.id)?.replicas.length, 2);
  } finally {
    await kit.close();
  }
});

test('nexus_orphans: a nexus no record claims (unpublished or moved while its node was away) is removed; operator nexuses stay', async () => {
  const kit = await makeKit(2);
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-orphan', sizeBytes: 4 * MiB, replicas: 2 });
    const pub = await kit.services.publish.publish(volume.id, { nodeId: 'n1' });
    const n1 = kit.engines.get('n1')!;
    const sweep = cleanNexusOrphans({ intervalMs: 0 });
    await n1.createNexus({ name: 'operator-nexus', replicas: [{ node: 'local', pool: 'p', volume: 'x' }], generation: 1 });
    assert.equal(await sweep.run(ctx), 0, 'the live nexus and the operator\'s stay');
    // The record moves on (as after a move elsewhere) while the old incarnation still runs on n1.
    const rec = (await readRecord<StoredVolume, VolumeOp>(ctx.store, volumeKey(volume.id)))!;
    await ctx.store.put(volumeKey(volume.id), JSON.stringify({ spec: { ...rec.record.spec, nexus: { ...pub.nexus, nodeId: 'n2', generation: 2 } }, pending: null }));
    assert.equal(await sweep.run(ctx), 1);
    assert.deepEqual([...n1.nexuses.keys()], ['operator-nexus']);
    assert.equal(n1.exports.size, 0, 'unexported first');
  } finally {
    await kit.close();
  }
});
