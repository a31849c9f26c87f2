import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/log.ts';
import { makeKit, MiB } from '../reconcile/reconcile_test_kit.ts';
import { buildControlApi } from './api_server.ts';

test('REST: /v1/snapshot-groups creates (idempotent by name), describes with members, deletes; /v1/snapshots/:id/blocks pages through one replica', async () => {
  const kit = await makeKit(2);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  try {
    for (const e of kit.engines.values()) e.snapshotsEnabled = true;
    const asked: unknown[] = [];
    for (const e of kit.engines.values()) {
      e.snapshotBlocks = async (req) => { asked.push(req); return { sizeBytes: 4 * MiB, blockSize: 4096, ranges: [{ offset: 0, length: 4096 }], nextOffset: null }; };
    }
    const ids: string[] = [];
    for (const name of ['pvc-a', 'pvc-b']) {
      const v = await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name, sizeBytes: 4 * MiB, replicas: 2 } });
      ids.push(v.json().id);
    }
    const made = await app.inject({ method: 'POST', url: '/v1/snapshot-groups', payload: { name: 'grp', volumeIds: ids } });
    assert.equal(made.statusCode, 201, made.body);
    const g = made.json();
    assert.deepEqual(g.snapshots.map((s: { volumeId: string; groupId: string }) => [s.volumeId, s.groupId]), ids.map((id) => [id, g.id]));
    assert.equal((await app.inject({ method: 'POST', url: '/v1/snapshot-groups', payload: { name: 'grp', volumeIds: ids } })).statusCode, 200);
    const other = await app.inject({ method: 'POST', url: '/v1/snapshot-groups', payload: { name: 'grp', volumeIds: [ids[0]] } });
    assert.equal(other.statusCode, 409);
    assert.equal(other.json().error.code, 'GROUP_SNAPSHOT_EXISTS');
    assert.equal((await app.inject({ method: 'POST', url: '/v1/snapshot-groups', payload: { name: 'x', volumeIds: [] } })).statusCode, 400);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/snapshot-groups', payload: { name: 'x', volumeIds: ['nope'] } })).json().error.code, 'VOLUME_NOT_FOUND');
    assert.equal((await app.inject({ method: 'GET', url: `/v1/snapshot-groups/${g.id}` })).json().snapshots.length, 2);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/snapshot-groups' })).json().groups.length, 1);

    const s0 = g.snapshots[0].id;
    const later = await app.inject({ method: 'POST', url: '/v1/snapshots', payload: { name: 'later', volumeId: ids[0] } });
    const blocks = await app.inject({ method: 'GET', url: `/v1/snapshots/${later.json().id}/blocks?base=${s0}&startingOffset=4096&maxResults=5` });
    assert.equal(blocks.statusCode, 200, blocks.body);
    assert.deepEqual(blocks.json(), { snapshotId: later.json().id, baseSnapshotId: s0, sizeBytes: 4 * MiB, blockSize: 4096, ranges: [{ offset: 0, length: 4096 }], nextOffset: null });
    assert.deepEqual(asked, [{ pool: 'p', snapshot: later.json().id, base: s0, startingOffset: 4096, maxResults: 5 }]);
    const across = await app.inject({ method: 'GET', url: `/v1/snapshots/${g.snapshots[1].id}/blocks?base=${s0}` });
    assert.equal(across.json().error.code, 'SNAPSHOTS_NOT_COMPARABLE');
    assert.equal((await app.inject({ method: 'GET', url: `/v1/snapshots/${s0}/blocks?maxResults=x` })).statusCode, 400);

    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/snapshot-groups/${g.id}` })).statusCode, 204);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/snapshot-groups/${g.id}` })).statusCode, 204);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/snapshot-groups/${g.id}` })).statusCode, 404);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/snapshots' })).json().snapshots.map((s: { name: string }) => s.name), ['later']);
  } finally {
    await app.close();
    await kit.close();
  }
});
