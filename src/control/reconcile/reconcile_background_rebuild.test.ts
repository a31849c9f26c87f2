import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineNexus } from '../engine_client/engine_client_types.ts';
import { readRecord, volumeKey, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import { volumeView } from '../service/volume_view.ts';
import { backgroundRebuild } from './reconcile_background_rebuild.ts';
import { finishPendingVolumes } from './reconcile_pending.ts';
import { replaceLostReplicas } from './reconcile_node_loss.ts';
import { createMissing } from './reconcile_missing.ts';
import { cleanNexusOrphans } from './reconcile_nexus_orphans.ts';
import { reconcileNexusReplicas } from './reconcile_nexus_replicas.ts';
import { MiB, makeKit, type Kit } from './reconcile_test_kit.ts';

async function stored(kit: Kit, id: string) {
  return (await readRecord<StoredVolume, VolumeOp>(kit.services.ctx.store, volumeKey(id)))!.record;
}

/** A 2-replica clone of a 1-replica volume: the seed holds the data, the blank awaits its rebuild. */
async function clone(kit: Kit, replicas = 2) {
  const { volume: src } = await kit.services.volumes.create({ name: 'pvc-src', sizeBytes: 4 * MiB, replicas: 1 });
  const { volume } = await kit.services.volumes.create({ name: 'pvc-clone', sizeBytes: 4 * MiB, replicas, sourceVolumeId: src.id });
  const rs = await kit.services.replicas.list({ volumeId: volume.id });
  const seed = rs.find((r) => r.awaitingRebuild !== true)!;
  const blanks = rs.filter((r) => r.awaitingRebuild === true);
  assert.equal(blanks.length, replicas - 1);
  return { volume, seed, blank: blanks[0] };
}

function setChild(nexus: EngineNexus, volume: string, fields: Record<string, unknown>): void {
  Object.assign(nexus.replicas.find((c) => c.volume === volume)!, fields);
}

test('background rebuild: a clone never published gets an unexported nexus, progress shows, marks clear, the nexus goes', async () => {
  const kit = await makeKit(3);
  try {
    const { volume, seed, blank } = await clone(kit);
    const ctx = kit.services.ctx;
    assert.equal(await backgroundRebuild.run(ctx), 1);
    const rec = await stored(kit, volume.id);
    assert.equal(rec.pending, null);
    assert.deepEqual(rec.spec?.syncNexus, { nodeId: seed.nodeId, generation: 1 });
    assert.equal(rec.spec?.nexusGeneration, 1, 'its generation is issued like any incarnation\'s');
    assert.equal(rec.spec?.publishedNodeId, undefined);
    const engine = kit.engines.get(seed.nodeId)!;
    const nexus = engine.nexuses.get(volume.id)!;
    assert.equal(nexus.generation, 1);
    assert.equal(engine.exports.size, 0, 'never exported');
    assert.deepEqual(nexus.replicas.map((c) => [c.volume, c.state]).sort(), [[seed.id, 'online'], [blank.id, 'stale']].sort());

    // Polled while it copies: the replica shows rebuilding with its progress.
    setChild(nexus, blank.id, { state: 'rebuilding', rebuild: { percent: 40 } });
    assert.equal(await backgroundRebuild.run(ctx), 0);
    const mid = (await kit.services.replicas.list({ volumeId: volume.id })).find((r) => r.id === blank.id)!;
    assert.equal(mid.status, 'rebuilding');
    assert.equal(mid.rebuildProgress, 0.4);
    // The orphan sweep leaves the background nexus alone: the record claims it.
    assert.equal(await cleanNexusOrphans({ intervalMs: 0 }).run(ctx), 0);
    assert.ok(engine.nexuses.has(volume.id));

    engine.finishRebuilds(volume.id);
    assert.equal(await backgroundRebuild.run(ctx), 2, 'mark cleared, nexus ended');
    const done = (await kit.services.replicas.list({ volumeId: volume.id })).find((r) => r.id === blank.id)!;
    assert.equal(done.awaitingRebuild, undefined);
    assert.equal(done.rebuildProgress, undefined);
    assert.equal(done.status, 'online');
    assert.equal(engine.nexuses.has(volume.id), false, 'the temporary nexus is destroyed');
    const after = await stored(kit, volume.id);
    assert.equal(after.spec?.syncNexus, undefined);
    assert.equal(after.spec?.nexusGeneration, 1);
    assert.equal(await backgroundRebuild.run(ctx), 0, 'nothing left to do');

    // A later publish fences the background incarnation: generation 2, both replicas online.
    const pub = await kit.services.publish.publish(volume.id, { nodeId: blank.nodeId });
    assert.equal(pub.nexus?.generation, 2);
    assert.deepEqual(kit.engines.get(pub.nexus!.nodeId)!.nexuses.get(volume.id)!.replicas.map((c) => c.state), ['online', 'online']);
  } finally {
    await kit.close();
  }
});

test('background rebuild: a publish meanwhile wins — the background nexus goes and the published one, generation + 1, rebuilds', async () => {
  const kit = await makeKit(3);
  try {
    const { volume, seed, blank } = await clone(kit);
    const ctx = kit.services.ctx;
    assert.equal(await backgroundRebuild.run(ctx), 1);
    const engine = kit.engines.get(seed.nodeId)!;
    setChild(engine.nexuses.get(volume.id)!, blank.id, { state: 'rebuilding', rebuild: { percent: 10 } });
    await backgroundRebuild.run(ctx);
    const progress = async () => (await kit.services.replicas.list({ volumeId: volume.id })).find((r) => r.id === blank.id)?.rebuildProgress;
    assert.equal(await progress(), 0.1);

    const pub = await kit.services.publish.publish(volume.id, { nodeId: blank.nodeId });
    assert.equal(pub.nexus?.nodeId, seed.nodeId, 'served where the data is');
    assert.equal(pub.nexus?.generation, 2, 'above the background incarnation');
    const rec = await stored(kit, volume.id);
    assert.equal(rec.spec?.syncNexus, undefined);
    assert.equal(rec.spec?.nexusGeneration, 2);
    assert.equal(await progress(), undefined, 'the stopped copy\'s progress is dropped');
    const nexus = engine.nexuses.get(volume.id)!;
    assert.equal(nexus.generation, 2);
    assert.ok(engine.exports.has(`_nexus/${volume.id}`));
    assert.deepEqual(nexus.replicas.map((c) => [c.volume, c.state]).sort(), [[seed.id, 'online'], [blank.id, 'stale']].sort());
    assert.equal(await backgroundRebuild.run(ctx), 0, 'a published volume is the live nexus\'s business');
    assert.equal(engine.nexuses.get(volume.id)?.generation, 2);
    // The live nexus reports its own progress, then the replica in sync.
    setChild(nexus, blank.id, { state: 'rebuilding', rebuild: { percent: 70 } });
    assert.equal(await reconcileNexusReplicas.run(ctx), 0);
    assert.equal(await progress(), 0.7);
    engine.finishRebuilds(volume.id);
    assert.equal(await reconcileNexusReplicas.run(ctx), 1);
    const done = (await kit.services.replicas.list({ volumeId: volume.id })).find((r) => r.id === blank.id)!;
    assert.deepEqual([done.awaitingRebuild, done.rebuildProgress, done.status], [undefined, undefined, 'online']);
  } finally {
    await kit.close();
  }
});

test('background rebuild: intents a crash left pending are finished — start, end, and a publish over a background nexus', async () => {
  const kit = await makeKit(3);
  try {
    const { volume, seed, blank } = await clone(kit);
    const ctx = kit.services.ctx;
    const key = volumeKey(volume.id);
    const engine = kit.engines.get(seed.nodeId)!;

    // Crashed after "pending", before the nexus was made: the recorded generation is used.
    await ctx.volumes.begin(key, { type: 'start-sync-nexus', nexusNodeId: seed.nodeId, generation: 1 });
    assert.equal(await backgroundRebuild.run(ctx), 0, 'a pending intent is not ours');
    assert.equal(await finishPendingVolumes.run(ctx), 1);
    assert.deepEqual((await stored(kit, volume.id)).spec?.syncNexus, { nodeId: seed.nodeId, generation: 1 });
    assert.equal(engine.nexuses.get(volume.id)?.generation, 1);

    // Crashed in a publish that had not yet torn the background nexus down.
    const op = {
      type: 'publish-nexus' as const, nodeId: blank.nodeId, initiatorIqn: `iqn.2026-11.io.test:${blank.nodeId}`,
      targetIqn: `iqn.2026-11.io.berth:vol-${volume.id}`, nexusNodeId: seed.nodeId, generation: 2,
    };
    await ctx.volumes.begin(key, op);
    assert.equal(await finishPendingVolumes.run(ctx), 1);
    let rec = await stored(kit, volume.id);
    assert.equal(rec.spec?.syncNexus, undefined);
    assert.equal(rec.spec?.nexus?.generation, 2);
    assert.equal(engine.nexuses.get(volume.id)?.generation, 2);
    assert.ok(engine.exports.has(`_nexus/${volume.id}`));
    await kit.services.publish.unpublish(volume.id);

    // Crashed while ending it: the nexus goes and the record forgets it.
    assert.equal(await backgroundRebuild.run(ctx), 1, 'restarted after the unpublish');
    rec = await stored(kit, volume.id);
    assert.deepEqual(rec.spec?.syncNexus, { nodeId: seed.nodeId, generation: 3 });
    await ctx.volumes.begin(key, { type: 'end-sync-nexus' });
    assert.equal(await finishPendingVolumes.run(ctx), 1);
    rec = await stored(kit, volume.id);
    assert.equal(rec.spec?.syncNexus, undefined);
    assert.equal(rec.spec?.nexusGeneration, 3);
    assert.equal(engine.nexuses.has(volume.id), false);
  } finally {
    await kit.close();
  }
});

test('background rebuild: a failed start is undone, so no nexus outlives an intent that does not record its generation', async () => {
  const kit = await makeKit(3);
  try {
    const { volume, seed } = await clone(kit);
    const ctx = kit.services.ctx;
    const engine = kit.engines.get(seed.nodeId)!;
    const create = engine.createNexus.bind(engine);
    engine.createNexus = async (req) => { await create(req); throw new Error('connection reset after create'); };
    assert.equal(await backgroundRebuild.run(ctx), 0);
    const rec = await stored(kit, volume.id);
    assert.equal(rec.pending, null);
    assert.equal(rec.spec?.syncNexus, undefined);
    assert.equal(rec.spec?.nexusGeneration, undefined);
    assert.equal(engine.nexuses.has(volume.id), false);
  } finally {
    await kit.close();
  }
});

test('background rebuild: the replacement of a lost replica of an unpublished volume is rebuilt without a publish', async () => {
  const kit = await makeKit(3, { heartbeatDeadlineMs: 1000, nodeLossGraceMs: 5000 });
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-lost', sizeBytes: 4 * MiB, replicas: 2 });
    const ctx = kit.services.ctx;
    const before = await kit.services.replicas.list({ volumeId: volume.id });
    const gone = before[0].nodeId;
    const survivor = before[1];
    for (const step of [3000, 5000]) {
      kit.clock.now += step;
      for (const n of kit.engines.keys()) if (n !== gone) await kit.beat(n);
    }
    assert.equal(await replaceLostReplicas.run(ctx), 2, 'one faulted, one placed');
    assert.equal(await createMissing.run(ctx), 1);
    const fresh = (await kit.services.replicas.list({ volumeId: volume.id })).find((r) => r.awaitingRebuild === true)!;
    assert.equal(await backgroundRebuild.run(ctx), 1);
    const engine = kit.engines.get(survivor.nodeId)!;
    const nexus = engine.nexuses.get(volume.id)!;
    assert.deepEqual(nexus.replicas.map((c) => [c.volume, c.state]).sort(), [[survivor.id, 'online'], [fresh.id, 'stale']].sort(), 'the faulted copy is left out');
    engine.finishRebuilds(volume.id);
    assert.equal(await backgroundRebuild.run(ctx), 2);
    const { volume: now, pending } = await kit.services.volumes.get(volume.id);
    assert.equal((await volumeView(ctx, now, pending, [])).status, 'online', 'two in-sync copies again, unpublished');
    assert.equal(engine.nexuses.has(volume.id), false);
  } finally {
    await kit.close();
  }
});

test('background rebuild: of several blanks each counts once in sync; a failed copy restarts the rebuild, generation + 1', async () => {
  const kit = await makeKit(3);
  try {
    const { volume, seed } = await clone(kit, 3);
    const ctx = kit.services.ctx;
    const blanks = (await kit.services.replicas.list({ volumeId: volume.id })).filter((r) => r.awaitingRebuild === true);
    assert.equal(await backgroundRebuild.run(ctx), 1);
    const engine = kit.engines.get(seed.nodeId)!;
    setChild(engine.nexuses.get(volume.id)!, blanks[0].id, { state: 'faulted' });
    assert.equal(await backgroundRebuild.run(ctx), 1, 'ended');
    assert.equal(engine.nexuses.has(volume.id), false);
    assert.equal(await backgroundRebuild.run(ctx), 1, 'started again');
    assert.deepEqual((await stored(kit, volume.id)).spec?.syncNexus, { nodeId: seed.nodeId, generation: 2 });

    setChild(engine.nexuses.get(volume.id)!, blanks[1].id, { state: 'online' });
    assert.equal(await backgroundRebuild.run(ctx), 1, 'one in sync, the nexus stays for the other');
    const marks = async () => (await kit.services.replicas.list({ volumeId: volume.id })).filter((r) => r.awaitingRebuild === true).map((r) => r.id);
    assert.deepEqual(await marks(), [blanks[0].id]);
    assert.equal(engine.nexuses.get(volume.id)?.generation, 2);
    engine.finishRebuilds(volume.id);
    assert.equal(await backgroundRebuild.run(ctx), 2);
    assert.deepEqual(await marks(), []);
    assert.equal(engine.nexuses.has(volume.id), false);
    assert.equal((await stored(kit, volume.id)).spec?.nexusGeneration, 2);
  } finally {
    await kit.close();
  }
});
