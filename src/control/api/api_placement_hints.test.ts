import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/log.ts';
import { makeKit, MiB } from '../reconcile/reconcile_test_kit.ts';
import { buildControlApi } from './api_server.ts';

interface Made { id: string; zone?: string; replicaStates: { nodeId: string }[] }

test('placement hints: the first replica on the pod\'s node or in its zone; a zone-local volume stays in its zone', async () => {
  // Nodes n1…n4, each in its own zone zone-nX.
  const kit = await makeKit(4);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite' });
  const create = async (name: string, extra: object) => app.inject({ method: 'POST', url: '/v1/volumes', payload: { name, sizeBytes: 4 * MiB, ...extra } });
  const nodesOf = (m: Made) => m.replicaStates.map((r) => r.nodeId);
  try {
    for (const pod of ['n1', 'n2', 'n3', 'n4']) {
      const r = await create(`near-${pod}`, { replicas: 2, placement: { preferredNodes: [pod, 'n1'], preferredZones: [`zone-${pod}`] } });
      assert.equal(r.statusCode, 201, r.body);
      assert.ok(nodesOf(r.json() as Made).includes(pod), `a replica on the pod's node ${pod}: ${nodesOf(r.json() as Made)}`);
      assert.equal(new Set(nodesOf(r.json() as Made)).size, 2);
    }
    // A compute-only pod node (no pools): its zone is preferred next.
    const c = await create('compute', { placement: { preferredNodes: ['c1'], preferredZones: ['zone-n3'] } });
    assert.deepEqual(nodesOf(c.json() as Made), ['n3']);
    // Unknown preferences are only preferences.
    assert.equal((await create('anywhere', { placement: { preferredNodes: ['gone'], preferredZones: ['nowhere'] } })).statusCode, 201);

    const local = await create('local', { placement: { zone: 'zone-n4', preferredNodes: ['n1'] } });
    assert.equal(local.statusCode, 201, local.body);
    assert.deepEqual(nodesOf(local.json() as Made), ['n4']);
    assert.equal((local.json() as Made).zone, 'zone-n4');
    // A retry from a pod elsewhere is the same volume, not a conflict.
    assert.equal((await create('local', { placement: { zone: 'zone-n1' } })).statusCode, 200);
    const tooMany = await create('local-2', { replicas: 2, placement: { zone: 'zone-n4' } });
    assert.equal(tooMany.statusCode, 422, tooMany.body);
  } finally {
    await app.close();
    await kit.close();
  }
});
