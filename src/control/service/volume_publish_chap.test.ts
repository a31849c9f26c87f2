/**
 * CHAP through the control plane: a publish with CHAP makes every export of the volume
 * demand it (a single replica's export, a nexus's, one the reconcilers re-make after an
 * engine lost it or a node was lost), the store keeps the secrets sealed, and a publish
 * cannot silently drop CHAP. Fake engines (reconcile_test_kit.ts) record what they got.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, KIT_TOKEN, makeKit, type Kit } from '../reconcile/reconcile_test_kit.ts';
import { createMissing } from '../reconcile/reconcile_missing.ts';
import { replaceLostReplicas } from '../reconcile/reconcile_node_loss.ts';
import { moveLostNexuses } from '../reconcile/reconcile_nexus_move.ts';
import { ChapSealer, type ChapCredentials } from './chap_seal.ts';
import { readRecord, volumeKey, type StoredVolume } from './service_records.ts';
import { buildControlApi } from '../api/api_server.ts';
import { silentLogger } from '../../util/log.ts';
import { SqliteStore } from '../store/sqlite_store.ts';
import { NodeRegistry } from '../registry/node_registry.ts';
import { ServiceContext, createServices } from './index.ts';

const CHAP: ChapCredentials = { user: 'pod-initiator', secret: 'initiator-secret-0123', mutualUser: 'berth-target', mutualSecret: 'target-secret-456789' };
const TIMING = { heartbeatDeadlineMs: 1000, nodeLossGraceMs: 5000 };

async function storeText(kit: Kit): Promise<string> {
  const all = await kit.store.list('');
  assert.ok(all.items.length > 0 && !all.more);
  return JSON.stringify(all.items);
}

function assertNoSecrets(text: string, what: string): void {
  for (const s of [CHAP.secret, CHAP.mutualSecret!]) assert.ok(!text.includes(s), `${what} holds a CHAP secret in clear`);
}

test('chap_seal: round trip, bound to the volume, opened with either token during rotation, never in clear', () => {
  const sealer = new ChapSealer([KIT_TOKEN]);
  const sealed = sealer.seal('vol-1', CHAP);
  assert.deepEqual(sealer.open('vol-1', sealed), CHAP);
  assert.equal(sealed.user, CHAP.user);
  assert.equal(sealed.mutualUser, CHAP.mutualUser);
  assertNoSecrets(JSON.stringify(sealed), 'the sealed form');
  assert.notEqual(sealer.seal('vol-1', CHAP).sealed, sealed.sealed, 'a fresh IV each time');
  assert.throws(() => sealer.open('vol-2', sealed), { code: 'CHAP_SEAL_FAILED' }, 'copied to another volume');
  const oneWay = sealer.seal('vol-1', { user: 'u', secret: 'abcdefghijklm' });
  assert.deepEqual(sealer.open('vol-1', oneWay), { user: 'u', secret: 'abcdefghijklm' });
  const next = 'next-token-0123456789abcdef0123456789abcdef01234';
  assert.deepEqual(new ChapSealer([next, KIT_TOKEN]).open('vol-1', sealed), CHAP, 'mid-rotation the old token still opens');
  assert.throws(() => new ChapSealer([next]).open('vol-1', sealed), (err: Error & { code?: string }) => err.code === 'CHAP_SEAL_FAILED' && !err.message.includes(CHAP.secret));
  assert.doesNotMatch(JSON.stringify({ sealer }), /kit-token/);
});

test('publish with CHAP: the replica export demands it, the store holds it sealed, republishing keeps it and cannot drop it', async () => {
  const kit = await makeKit(1);
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-chap', sizeBytes: 4 * MiB });
    const pub = await kit.services.publish.publish(volume.id, { nodeId: 'n1', chap: CHAP });
    const engine = kit.engines.get('n1')!;
    const key = `p/${pub.target?.replicaId}`;
    assert.deepEqual(engine.exports.get(key)?.chap, { user: CHAP.user, mutualUser: CHAP.mutualUser });
    assert.equal(engine.chapSecrets.get(key), CHAP.secret, 'the engine got the secret');
    assertNoSecrets(await storeText(kit), 'the store');
    assert.equal(pub.chap?.user, CHAP.user);

    assert.deepEqual(await kit.services.publish.publish(volume.id, { nodeId: 'n1', chap: CHAP }), pub, 'the same CHAP again: nothing redone');
    await assert.rejects(kit.services.publish.publish(volume.id, { nodeId: 'n1' }), { code: 'CHAP_CONFLICT' });
    assert.ok(engine.exports.get(key)?.chap, 'still demanded after the refused publish');

    const rotated = { ...CHAP, secret: 'rotated-secret-98765' };
    await kit.services.publish.publish(volume.id, { nodeId: 'n1', chap: rotated });
    assert.equal(engine.chapSecrets.get(key), rotated.secret, 'a new secret re-makes the export');

    // The engine lost the export (a wiped state file): the reconciler makes it again, with CHAP.
    engine.exports.delete(key);
    engine.chapSecrets.delete(key);
    assert.equal(await createMissing.run(kit.services.ctx), 1);
    assert.deepEqual(engine.exports.get(key)?.chap, { user: CHAP.user, mutualUser: CHAP.mutualUser });
    assert.equal(engine.chapSecrets.get(key), rotated.secret);

    const off = await kit.services.publish.unpublish(volume.id);
    assert.equal(off.chap, undefined, 'unpublish drops CHAP with the export');
    const plain = await kit.services.publish.publish(volume.id, { nodeId: 'n1' });
    assert.equal(engine.exports.get(`p/${plain.target?.replicaId}`)?.chap, undefined, 'published again without CHAP: none');
  } finally {
    await kit.close();
  }
});

test('publish with CHAP: bad credentials are refused without echoing them', async () => {
  const kit = await makeKit(1);
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-bad', sizeBytes: 4 * MiB });
    for (const [chap, why] of [
      [{ user: 'u', secret: 'short' }, /chap.secret must be 12/],
      [{ user: 'u', secret: 'long-enough-secret', mutualUser: 't' }, /both chap.mutualUser and chap.mutualSecret/],
      [{ user: 'u', secret: 'long-enough-secret', mutualUser: 't', mutualSecret: 'long-enough-secret' }, /must differ/],
    ] as const) {
      await assert.rejects(kit.services.publish.publish(volume.id, { nodeId: 'n1', chap }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, why);
        assert.ok(!err.message.includes('long-enough-secret') && !err.message.includes('short'));
        return true;
      });
    }
    assert.equal(kit.engines.get('n1')!.exports.size, 0);
  } finally {
    await kit.close();
  }
});

test('publish with CHAP: a replicated volume\'s nexus export demands it, also after the nexus moves off a lost node', async () => {
  const kit = await makeKit(3, TIMING);
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-r', sizeBytes: 4 * MiB, replicas: 2 });
    const nodes = (await kit.services.replicas.list({ volumeId: volume.id })).map((r) => r.nodeId);
    await kit.services.publish.publish(volume.id, { nodeId: nodes[0], chap: CHAP });
    const first = kit.engines.get(nodes[0])!;
    assert.deepEqual(first.exports.get(`_nexus/${volume.id}`)?.chap, { user: CHAP.user, mutualUser: CHAP.mutualUser });
    assert.equal(first.chapSecrets.get(`_nexus/${volume.id}`), CHAP.secret);

    for (const step of [3000, 5000]) {
      kit.clock.now += step;
      for (const n of kit.engines.keys()) if (n !== nodes[0]) await kit.beat(n);
    }
    first.down = true;
    await replaceLostReplicas.run(ctx);
    assert.equal(await moveLostNexuses.run(ctx), 1);
    const moved = (await readRecord<StoredVolume>(ctx.store, volumeKey(volume.id)))!.record.spec!;
    const there = kit.engines.get(moved.nexus!.nodeId)!;
    assert.notEqual(moved.nexus!.nodeId, nodes[0]);
    assert.deepEqual(there.exports.get(`_nexus/${volume.id}`)?.chap, { user: CHAP.user, mutualUser: CHAP.mutualUser }, 'the moved nexus demands the same CHAP');
    assert.equal(there.chapSecrets.get(`_nexus/${volume.id}`), CHAP.secret);
    assertNoSecrets(await storeText(kit), 'the store');
  } finally {
    await kit.close();
  }
});

test('REST: publish takes chap; the answer and later reads show user names only, never the sealed form or a secret', async () => {
  const kit = await makeKit(1);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-rest', sizeBytes: 4 * MiB });
    const res = await app.inject({ method: 'POST', url: `/v1/volumes/${volume.id}/publish`, payload: { nodeId: 'n1', chap: CHAP } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().chap, { user: CHAP.user, mutualUser: CHAP.mutualUser });
    for (const body of [res.body, (await app.inject({ method: 'GET', url: `/v1/volumes/${volume.id}` })).body, (await app.inject({ method: 'GET', url: '/v1/volumes' })).body]) {
      assertNoSecrets(body, 'an API answer');
      assert.ok(!body.includes('"sealed"'), 'the sealed form stays in the store');
    }
    const bad = await app.inject({ method: 'POST', url: `/v1/volumes/${volume.id}/publish`, payload: { nodeId: 'n1', chap: { user: 'u', secret: 'tiny-secret' } } });
    assert.equal(bad.statusCode, 400);
    assert.ok(!bad.body.includes('tiny-secret'));
    const dropped = await app.inject({ method: 'POST', url: `/v1/volumes/${volume.id}/publish`, payload: { nodeId: 'n1' } });
    assert.equal(dropped.statusCode, 409);
    assert.equal(dropped.json().error.code, 'CHAP_CONFLICT');
  } finally {
    await app.close();
    await kit.close();
  }
});

test('a control plane without a token (nothing to seal with) refuses CHAP publishes instead of storing secrets in clear', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  try {
    const ctx = new ServiceContext({ store, registry: new NodeRegistry(0), logger: silentLogger(), engines: () => assert.fail('no engine is called') });
    await assert.rejects(createServices(ctx).publish.publish('v1', { nodeId: 'n1', chap: CHAP }), (err: Error & { code?: string }) =>
      err.code === 'INVALID_ARGUMENT' && /--auth-token-file/.test(err.message) && !err.message.includes(CHAP.secret));
    assert.equal((await store.list('')).items.length, 0);
  } finally {
    await store.close();
  }
});
