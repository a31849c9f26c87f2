/**
 * The lab e2e (test/k8s) applies deploy/ through test/k8s/overlay. This checks that the
 * overlay changes only what the lab forces — images (the sidecars at the lab's versions),
 * pull policy, the controller pod on the host network with its sidecars pointed at the
 * API server, and the two settings BERTH_CONTROL_PLANE_URL and BERTH_CSI_ATTACHER — so
 * a passing e2e speaks for deploy/ as shipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO, renderOverlay, type K8sObject } from './render_kit.ts';
import { SIDECARS } from '../k8s/lab_kit.ts';

const LAB_ONLY_ENV = new Set(['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT']);
const LAB_SETTINGS = new Set(['BERTH_CONTROL_PLANE_URL', 'BERTH_CSI_ATTACHER']);

function renderLab(): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', join(REPO, 'test', 'k8s', 'overlay')], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  return parseAllDocuments(text).map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}

type Json = Record<string, unknown>;

/** Drops what the overlay may change, so the rest can be compared as a whole. */
function normalise(o: K8sObject): Json {
  const copy = JSON.parse(JSON.stringify(o)) as Json & { metadata: Json; data?: Record<string, string> };
  if (o.kind === 'ConfigMap') {
    copy.metadata.name = String(copy.metadata.name).replace(/-[a-z0-9]{10}$/, '');
    for (const k of LAB_SETTINGS) delete copy.data?.[k];
  }
  const pod = (copy.spec as { template?: { spec: Json & { containers: Json[] } } } | undefined)?.template?.spec;
  if (pod) {
    if (o.kind === 'Deployment' && o.metadata.name === 'berth-control') {
      delete pod.hostNetwork;
      delete pod.dnsPolicy;
    }
    for (const c of pod.containers) {
      delete c.imagePullPolicy;
      c.image = String(c.image).replace(/:v[\d.]+$/, ':SIDECAR');
      c.env = (c.env as { name: string }[] | undefined)?.filter((e) => !LAB_ONLY_ENV.has(e.name));
      if ((c.env as unknown[] | undefined)?.length === 0) delete c.env;
      for (const f of (c.envFrom as { configMapRef?: { name: string } }[] | undefined) ?? []) {
        if (f.configMapRef) f.configMapRef.name = f.configMapRef.name.replace(/-[a-z0-9]{10}$/, '');
      }
    }
  }
  return copy;
}

const key = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`;

test('the lab overlay changes only images, pull policy, the lab\'s API and Service routing, and two settings', () => {
  const dev = new Map(renderOverlay('dev').map((o) => [key(o), normalise(o)]));
  const lab = renderLab();
  assert.deepEqual(lab.map(key).sort(), [...dev.keys()].sort(), 'the same objects');
  for (const o of lab) assert.deepEqual(normalise(o), dev.get(key(o)), key(o));
  const pulls = lab.flatMap((o) => ((o.spec as { template?: { spec: { containers: { imagePullPolicy?: string }[] } } } | undefined)?.template?.spec.containers ?? []));
  assert.ok(pulls.length > 0 && pulls.every((c) => c.imagePullPolicy === 'Never'), 'imported images only');
});

test('the lab overlay runs the sidecars the lab builds, at the versions test/k8s/lab_kit.ts imports', () => {
  const images = new Set(renderLab().flatMap((o) => ((o.spec as { template?: { spec: { containers: { image: string }[] } } } | undefined)?.template?.spec.containers ?? []).map((c) => c.image)));
  for (const s of SIDECARS) assert.ok(images.has(s.image), `${s.image} is not used`);
  assert.ok(images.has('berth:dev'), 'Berth\'s image is the one scripts/build-image.sh tags');
  assert.equal([...images].filter((i) => i.startsWith('registry.k8s.io/')).length, SIDECARS.length);
});
