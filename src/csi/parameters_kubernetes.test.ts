import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseVolumeParameters } from './parameters.ts';
import { canonicalParameters, sameCanonicalParameters, storedAttributes } from './parameters_canonical.ts';
import { createVolumeBody, parametersFromRest, type RestVolume } from './rest_views.ts';

const fromProvisioner = {
  replicas: '2',
  'csi.storage.k8s.io/pvc/name': 'orders-db',
  'csi.storage.k8s.io/pvc/namespace': 'shop',
  'csi.storage.k8s.io/pv/name': 'pvc-7f3e',
};

it('keeps the PVC and PV names --extra-create-metadata passes, and refuses none of its keys', () => {
  const p = parseVolumeParameters(fromProvisioner);
  assert.deepEqual(p.kubernetes, { pvcName: 'orders-db', pvcNamespace: 'shop', pvName: 'pvc-7f3e' });
  assert.equal(p.replicas, 2);
  // Not a Kubernetes name: not kept (and still not refused: the key is the sidecar's).
  assert.equal(parseVolumeParameters({ 'csi.storage.k8s.io/pvc/name': 'Bad Name\n' }).kubernetes, undefined);
});

it('the names go into the volume\'s attributes and read back, but two requests differing only in them match', () => {
  const p = parseVolumeParameters(fromProvisioner);
  const body = createVolumeBody({ name: 'pvc-7f3e', capacityBytes: 8 << 20, parameters: p, definingParameters: {} });
  const attributes = body.attributes as Record<string, string>;
  assert.equal(attributes['csi.storage.k8s.io/pvc/name'], 'orders-db');
  assert.equal(attributes['csi.storage.k8s.io/pvc/namespace'], 'shop');
  assert.equal(attributes['csi.storage.k8s.io/pv/name'], 'pvc-7f3e');
  assert.deepEqual(storedAttributes(parseVolumeParameters({ replicas: '2' })), canonicalParameters(p), 'no names: the canonical form alone');
  const back = parametersFromRest({ id: 'v', name: 'pvc-7f3e', sizeBytes: 8 << 20, replicas: 2, attributes } as RestVolume);
  assert.deepEqual(back.kubernetes, p.kubernetes);
  assert.ok(sameCanonicalParameters(back, parseVolumeParameters({ replicas: '2' })));
  assert.equal(Object.keys(canonicalParameters(p)).some((k) => k.startsWith('csi.storage.k8s.io/')), false);
});
