import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/log.ts';
import { makeKit, MiB } from '../reconcile/reconcile_test_kit.ts';
import { buildControlApi } from './api_server.ts';

const IQN = 'iqn.2026-11.io.berth.test:compute-1';

test('a compute-only node registered by its node plugin is published to; its ACL admits the registered initiator', async () => {
  const kit = await makeKit(1);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  try {
    const v = (await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name: 'v1', sizeBytes: 4 * MiB } })).json() as { id: string };
    const before = await app.inject({ method: 'POST', url: `/v1/volumes/${v.id}/publish`, payload: { nodeId: 'compute-1' } });
    assert.equal(before.json().error.code, 'NODE_NOT_FOUND');

    const reg = await app.inject({ method: 'PUT', url: '/v1/nodes/compute-1/attach', payload: { initiatorIqn: IQN, zone: 'z9' } });
    assert.equal(reg.statusCode, 200, reg.body);
    assert.equal(reg.json().initiatorIqn, IQN);
    const bad = await app.inject({ method: 'PUT', url: '/v1/nodes/compute-1/attach', payload: { initiatorIqn: 'not an iqn' } });
    assert.equal(bad.statusCode, 400);

    const pub = await app.inject({ method: 'POST', url: `/v1/volumes/${v.id}/publish`, payload: { nodeId: 'compute-1' } });
    assert.equal(pub.statusCode, 200, pub.body);
    assert.equal(pub.json().publishedNodeId, 'compute-1');
    const exported = [...(kit.engines.get('n1')?.exports.values() ?? [])];
    assert.deepEqual(exported.map((e) => e.allowedInitiators), [[IQN]]);
    const listed = (await app.inject({ method: 'GET', url: '/v1/attach-nodes' })).json() as { attachNodes: { id: string; zone: string }[] };
    assert.deepEqual(listed.attachNodes.map((n) => [n.id, n.zone]), [['compute-1', 'z9']]);
  } finally {
    await app.close();
    await kit.close();
  }
});

test('an engine node\'s registration wins over its label', async () => {
  const kit = await makeKit(1);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  try {
    const v = (await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name: 'v1', sizeBytes: 4 * MiB } })).json() as { id: string };
    await app.inject({ method: 'PUT', url: '/v1/nodes/n1/attach', payload: { initiatorIqn: 'iqn.2026-11.io.berth.test:n1-plugin' } });
    const pub = await app.inject({ method: 'POST', url: `/v1/volumes/${v.id}/publish`, payload: { nodeId: 'n1' } });
    assert.equal(pub.json().initiatorIqn, 'iqn.2026-11.io.berth.test:n1-plugin');
  } finally {
    await app.close();
    await kit.close();
  }
});

test('max_volumes_per_node is enforced at publish: one more is TOO_MANY_VOLUMES (507), a republish is not', async () => {
  const kit = await makeKit(1);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  try {
    await app.inject({ method: 'PUT', url: '/v1/nodes/compute-1/attach', payload: { initiatorIqn: IQN, maxVolumes: 2 } });
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) ids.push(((await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name, sizeBytes: 4 * MiB } })).json() as { id: string }).id);
    const publish = (id: string) => app.inject({ method: 'POST', url: `/v1/volumes/${id}/publish`, payload: { nodeId: 'compute-1' } });
    const answers = await Promise.all(ids.map(publish));
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 200, 507]);
    const refused = ids[answers.findIndex((a) => a.statusCode === 507)];
    assert.equal(answers.find((a) => a.statusCode === 507)?.json().error.code, 'TOO_MANY_VOLUMES');
    const held = ids.filter((id) => id !== refused);
    assert.equal((await publish(held[0])).statusCode, 200);
    await app.inject({ method: 'POST', url: `/v1/volumes/${held[0]}/unpublish`, payload: { nodeId: 'compute-1' } });
    assert.equal((await publish(refused)).statusCode, 200);
  } finally {
    await app.close();
    await kit.close();
  }
});
