import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/log.ts';
import { makeKit, MiB } from '../reconcile/reconcile_test_kit.ts';
import { buildControlApi } from './api_server.ts';
import { statusForCode } from './http_status.ts';

test('codes map to statuses in one table, with family rules for the rest', () => {
  assert.equal(statusForCode('PLACEMENT_FAILED'), 422);
  assert.equal(statusForCode('NOT_LEADER'), 503);
  assert.equal(statusForCode('NOT_IMPLEMENTED'), 501);
  assert.equal(statusForCode('VOLUME_NOT_FOUND'), 404);
  assert.equal(statusForCode('POOL_EXISTS'), 409);
  assert.equal(statusForCode('INVALID_HEARTBEAT'), 400);
  assert.equal(statusForCode('NO_SPACE'), 507);
  assert.equal(statusForCode('SOMETHING_ELSE'), 500);
});

test('bad input is 400 before any service runs; errors are {error:{code,message}}', async () => {
  const kit = await makeKit(1);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  try {
    const extra = await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name: 'v', sizeBytes: 4 * MiB, colour: 'red' } });
    assert.equal(extra.statusCode, 400);
    assert.equal(extra.json().error.code, 'INVALID_ARGUMENT');
    const notJson = await app.inject({ method: 'POST', url: '/v1/volumes', headers: { 'content-type': 'application/json' }, payload: '{' });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json().error.code, 'BAD_REQUEST');
    const hb = await app.inject({ method: 'POST', url: '/v1/heartbeats', payload: { nodeId: '', endpoint: 'x', zone: 'z', storageGroup: 's', pools: [] } });
    assert.equal(hb.statusCode, 400);
    assert.equal(hb.json().error.code, 'INVALID_HEARTBEAT');
    const nope = await app.inject({ method: 'GET', url: '/v1/nowhere' });
    assert.equal(nope.json().error.code, 'ROUTE_NOT_FOUND');
    const qos = await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name: 'vq', sizeBytes: 4 * MiB, qos: { maxIops: 100 } } });
    assert.equal(qos.statusCode, 400, 'QoS is refused, not stored unenforced');
    assert.equal(qos.json().error.code, 'INVALID_ARGUMENT');
    assert.match(qos.json().error.message, /qos is not enforced/);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/volumes?name=vq' })).json().volumes.length, 0);
    const multi = await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name: 'v2', sizeBytes: 4 * MiB, replicas: 3 } });
    assert.equal(multi.statusCode, 422);
    assert.match(multi.json().error.message, /need 3 replicas/);
  } finally {
    await app.close();
    await kit.close();
  }
});

test('a follower refuses writes with 503 NOT_LEADER naming the leader, and still takes heartbeats', async () => {
  const follower = { isLeader: () => false, fence: () => undefined, leaderUrl: async () => 'http://127.0.0.1:9601' };
  const kit = await makeKit(0, undefined, follower);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'etcd' });
  try {
    const w = await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name: 'v', sizeBytes: 4 * MiB } });
    assert.equal(w.statusCode, 503);
    assert.equal(w.json().error.code, 'NOT_LEADER');
    assert.equal(w.json().error.leader, 'http://127.0.0.1:9601');
    assert.equal(w.headers['x-berth-leader'], 'http://127.0.0.1:9601');
    const hb = await app.inject({ method: 'POST', url: '/v1/heartbeats', payload: { nodeId: 'n9', endpoint: 'n9', zone: 'z', storageGroup: 's', pools: [] } });
    assert.equal(hb.statusCode, 200);
    assert.deepEqual(hb.json(), { accepted: true, leader: false });
    assert.equal((await app.inject({ method: 'GET', url: '/v1/health' })).json().leader, false);
  } finally {
    await app.close();
    await kit.close();
  }
});

test('GET /v1/volumes?name= answers only the volume of that name, or none', async () => {
  const kit = await makeKit(1);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  try {
    for (const name of ['pvc-a', 'pvc-b']) assert.equal((await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name, sizeBytes: 4 * MiB } })).statusCode, 201);
    const one = await app.inject({ method: 'GET', url: '/v1/volumes?name=pvc-b' });
    assert.deepEqual(one.json().volumes.map((v: { name: string }) => v.name), ['pvc-b']);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/volumes?name=pvc-none' })).json().volumes, []);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/volumes' })).json().volumes.length, 2);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/volumes?colour=red' })).statusCode, 400);
  } finally {
    await app.close();
    await kit.close();
  }
});
