import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, makeKit } from '../reconcile/reconcile_test_kit.ts';
import { replaceLostReplicas } from '../reconcile/reconcile_node_loss.ts';
import { EventLog } from './event_log.ts';
import { EventRecorder } from './event_recorder.ts';
import { parseEventQuery } from './event_query.ts';
import { EventType, ObjectKind } from './event_types.ts';

test('events: a node goes offline, is lost, its replica is faulted and replaced; placement refusals; stored and queried', async () => {
  const kit = await makeKit(3, { heartbeatDeadlineMs: 1000, nodeLossGraceMs: 5000 });
  const ctx = kit.services.ctx;
  const log = new EventLog({ store: kit.store });
  const recorder = new EventRecorder(log);
  try {
    assert.equal(await recorder.run(ctx), 0, 'the first pass is the baseline');
    const { volume } = await kit.services.volumes.create({ name: 'pvc-ev', sizeBytes: 8 * MiB, replicas: 2 });
    await assert.rejects(kit.services.volumes.create({ name: 'pvc-too-many', sizeBytes: 8 * MiB, replicas: 5 }), { code: 'PLACEMENT_FAILED' });
    await recorder.run(ctx);
    let all = await log.all();
    assert.deepEqual(all.map((e) => e.type), [EventType.VolumeCreated, EventType.PlacementRefused]);
    assert.match(all[1].message, /^placement refused 5 replicas for volume pvc-too-many: /);

    const victim = (await kit.services.replicas.list({ volumeId: volume.id }))[0].nodeId;
    const survivors = ['n1', 'n2', 'n3'].filter((n) => n !== victim);
    kit.clock.now += 3000;
    for (const n of survivors) await kit.beat(n);
    ctx.registry.tick(kit.clock.now);
    await recorder.run(ctx);
    kit.clock.now += 6000;
    for (const n of survivors) await kit.beat(n);
    ctx.registry.tick(kit.clock.now);
    await recorder.run(ctx);
    assert.ok(await replaceLostReplicas.run(ctx) > 0);
    await recorder.run(ctx);

    all = await log.all();
    const seen = all.slice(2).map((e) => [e.type, e.object.kind === ObjectKind.Node ? e.object.id : e.object.name]);
    // The last two come from one pass, in the order the volume's replicas are listed (by random id).
    assert.deepEqual([...seen.slice(0, 3), ...seen.slice(3).sort()], [
      [EventType.NodeOffline, victim], [EventType.VolumeDegraded, 'pvc-ev'],
      [EventType.NodeLost, victim],
      [EventType.RebuildStarted, 'pvc-ev'], [EventType.ReplicaFaulted, 'pvc-ev'],
    ]);
    assert.ok(all.every((e, i) => i === 0 || all[i - 1].id < e.id), 'ids sort in time order');
    assert.equal(all[2].time, new Date(all[2].atMs).toISOString());

    // Newest first, filtered by an involved id, paged by cursor.
    const forNode = await log.query(parseEventQuery({ node: victim }));
    assert.deepEqual(forNode.events.map((e) => e.type), [EventType.ReplicaFaulted, EventType.NodeLost, EventType.NodeOffline]);
    const page1 = await log.query(parseEventQuery({ volume: volume.id, limit: '2' }));
    assert.equal(page1.events.length, 2);
    assert.ok(page1.next !== undefined);
    const page2 = await log.query(parseEventQuery({ volume: volume.id, limit: '2', before: page1.next }));
    const paged = [...page1.events, ...page2.events];
    assert.ok(paged.every((e, i) => i === 0 || paged[i - 1].id > e.id), 'newest first, no event twice');
    const types = paged.map((e) => e.type).reverse();
    assert.deepEqual([...types.slice(0, 2), ...types.slice(2).sort()],
      [EventType.VolumeCreated, EventType.VolumeDegraded, EventType.RebuildStarted, EventType.ReplicaFaulted]);
    assert.equal(page2.next, undefined);
    const warnings = await log.query(parseEventQuery({ type: 'NodeLost,PlacementRefused', since: String(all[1].atMs) }));
    assert.deepEqual(warnings.events.map((e) => e.type), [EventType.NodeLost, EventType.PlacementRefused]);
  } finally {
    await kit.close();
  }
});

test('the log is bounded: the oldest events go once it holds a tenth more than its limit', async () => {
  const kit = await makeKit(0);
  try {
    const log = new EventLog({ store: kit.store, maxEvents: 10 });
    const draft = (i: number) => ({
      atMs: 1000 + i, type: EventType.NodeOnline, severity: 'normal' as const, object: { kind: ObjectKind.Node, id: `n${i}` },
      reason: 'Registered', message: `node n${i}`, involved: { nodeId: `n${i}` },
    });
    await log.append(Array.from({ length: 11 }, (_, i) => draft(i)));
    assert.equal((await log.all()).length, 11, 'within the slack');
    await log.append([draft(11)]);
    const left = await log.all();
    assert.equal(left.length, 10);
    assert.equal(left[0].object.id, 'n2', 'the two oldest are gone');
    // A second log on the same store (a new leader) counts what is there before trimming.
    await new EventLog({ store: kit.store, maxEvents: 5 }).append([draft(12)]);
    assert.deepEqual((await log.all()).map((e) => e.object.id), ['n8', 'n9', 'n10', 'n11', 'n12']);
  } finally {
    await kit.close();
  }
});

test('event queries: bad parameters are refused by name', () => {
  for (const [q, re] of [
    [{ limit: '0' }, /^limit/], [{ limit: '5000' }, /^limit/], [{ type: 'NodeGone' }, /^type: unknown "NodeGone"/],
    [{ since: 'yesterday' }, /^since/], [{ kind: 'disk' }, /^kind/], [{ volume: '' }, /^volume/],
  ] as const) {
    assert.throws(() => parseEventQuery(q), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && re.test(err.message), JSON.stringify(q));
  }
  assert.equal(parseEventQuery({ since: '2026-12-06T22:00:00Z' }).sinceMs, Date.parse('2026-12-06T22:00:00Z'));
  assert.deepEqual(parseEventQuery({}), { limit: 100 });
});

test('a new leadership term starts from a fresh baseline: changes made under another leader are not recorded again', async () => {
  const term = { createRevision: 0 };
  const fence = () => (term.createRevision === 0 ? undefined : { key: 'test/leader', createRevision: term.createRevision });
  const kit = await makeKit(1, undefined, { isLeader: () => true, fence, leaderUrl: async () => undefined });
  const ctx = kit.services.ctx;
  try {
    term.createRevision = await kit.store.put('test/leader', 'a');
    const log = new EventLog({ store: kit.store, fence: () => ctx.fence() });
    const recorder = new EventRecorder(log);
    await recorder.run(ctx);
    await kit.services.volumes.create({ name: 'pvc-term-1', sizeBytes: 8 * MiB });
    await recorder.run(ctx);
    // Leadership lost and won again: a new lease, a new create revision of the key; meanwhile another leader made pvc-term-2.
    await kit.store.delete('test/leader');
    term.createRevision = await kit.store.put('test/leader', 'a');
    await kit.services.volumes.create({ name: 'pvc-term-2', sizeBytes: 8 * MiB });
    assert.equal(await recorder.run(ctx), 0, 'the first pass of a term is its baseline');
    await kit.services.volumes.create({ name: 'pvc-term-3', sizeBytes: 8 * MiB });
    await recorder.run(ctx);
    assert.deepEqual((await log.all()).map((e) => [e.type, e.object.name]), [['VolumeCreated', 'pvc-term-1'], ['VolumeCreated', 'pvc-term-3']]);
  } finally {
    await kit.close();
  }
});
