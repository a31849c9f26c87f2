import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/log.ts';
import { makeKit, MiB } from '../reconcile/reconcile_test_kit.ts';
import { buildControlApi } from './api_server.ts';

interface View { id: string; replicas: number; replicaStates: { id: string; nodeId: string; awaitingRebuild?: boolean }[] }

test('PATCH replicas: raising places copies awaiting their rebuild; lowering drops the empty ones first, only while unpublished', async () => {
  const kit = await makeKit(3);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  const patch = (id: string, body: object) => app.inject({ method: 'PATCH', url: `/v1/volumes/${id}`, payload: body });
  try {
    const v = (await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name: 'v', sizeBytes: 4 * MiB } })).json() as View;
    const first = v.replicaStates[0];
    const up = await patch(v.id, { replicas: 3 });
    assert.equal(up.statusCode, 200, up.body);
    const raised = up.json() as View;
    assert.equal(raised.replicas, 3);
    assert.equal(new Set(raised.replicaStates.map((r) => r.nodeId)).size, 3, 'one copy per node');
    assert.deepEqual(raised.replicaStates.filter((r) => r.id !== first.id).map((r) => r.awaitingRebuild), [true, true]);
    assert.equal((await patch(v.id, { replicas: 3 })).json().replicaStates.length, 3, 'the same count again adds nothing');

    const down = (await patch(v.id, { replicas: 1 })).json() as View;
    assert.deepEqual(down.replicaStates.map((r) => r.id), [first.id], 'the copies without data go, the in-sync one stays');

    await app.inject({ method: 'PUT', url: '/v1/nodes/c1/attach', payload: { initiatorIqn: 'iqn.2026-11.io.test:c1' } });
    await patch(v.id, { replicas: 2 });
    assert.equal((await app.inject({ method: 'POST', url: `/v1/volumes/${v.id}/publish`, payload: { nodeId: 'c1' } })).statusCode, 200);
    const busy = await patch(v.id, { replicas: 1 });
    assert.equal(busy.json().error.code, 'VOLUME_PUBLISHED');
    assert.equal((await patch(v.id, { replicas: 6 })).statusCode, 400);
    assert.equal((await patch(v.id, {})).statusCode, 400);
    assert.equal((await patch('no-such-volume', { replicas: 2 })).json().error.code, 'VOLUME_NOT_FOUND');
  } finally {
    await app.close();
    await kit.close();
  }
});
