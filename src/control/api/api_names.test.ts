import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/log.ts';
import { makeKit, MiB } from '../reconcile/reconcile_test_kit.ts';
import { buildControlApi } from './api_server.ts';

/** Names the CSI spec allows (csi-sanity uses several) and the ones it does not. */
const LEGAL = ['sanity-max-attach-limit-vol+1', 'a:b', 'a b', 'ünïcødé-卷', '-leading', 'x'.repeat(128), 'é'.repeat(64), 'pvc-0e4f/..'];
const ILLEGAL = ['', 'tab\there', 'nl\n', 'del\u007f', 'x'.repeat(129), 'é'.repeat(65)];

test('volume and snapshot names: any UTF-8 up to 128 bytes without control characters; ids stay safe', async () => {
  const kit = await makeKit(1);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  try {
    for (const name of LEGAL) {
      const made = await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name, sizeBytes: 4 * MiB } });
      assert.equal(made.statusCode, 201, `${name}: ${made.body}`);
      const v = made.json() as { id: string; name: string };
      assert.equal(v.name, name);
      assert.match(v.id, /^[0-9a-f-]{36}$/);
      const found = await app.inject({ method: 'GET', url: `/v1/volumes?name=${encodeURIComponent(name)}` });
      assert.deepEqual((found.json() as { volumes: { id: string }[] }).volumes.map((x) => x.id), [v.id], name);
      // The kit's engines cut no snapshots: past validation, the name reaches the engine step.
      const snap = await app.inject({ method: 'POST', url: '/v1/snapshots', payload: { name, volumeId: v.id } });
      assert.equal((snap.json() as { error?: { code: string } }).error?.code, 'NOT_IMPLEMENTED', `${name}: ${snap.body}`);
      await app.inject({ method: 'DELETE', url: `/v1/volumes/${v.id}` });
    }
    for (const name of ILLEGAL) {
      const refused = await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name, sizeBytes: 4 * MiB } });
      assert.equal(refused.statusCode, 400, JSON.stringify(name));
      assert.equal((refused.json() as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
      const snap = await app.inject({ method: 'POST', url: '/v1/snapshots', payload: { name, volumeId: 'v' } });
      assert.equal(snap.statusCode, 400, JSON.stringify(name));
    }
  } finally {
    await app.close();
    await kit.close();
  }
});
