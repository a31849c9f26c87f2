/**
 * deploy/components/group-snapshots, rendered on top of each shipped overlay: the flag
 * lands on csi-snapshotter (the component patches it by position), the class names the
 * driver, and the snapshotter's service account gets the group rights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DRIVER, REPO, container, find, overlayNames, workload, type K8sObject } from './render_kit.ts';

function renderWithComponent(overlay: string): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), `berth-vgs-${process.pid}-`));
  try {
    // kustomize takes relative paths only.
    const deploy = relative(dir, join(REPO, 'deploy'));
    writeFileSync(join(dir, 'kustomization.yaml'), [
      'apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization',
      'resources:', `  - ${deploy}/overlays/${overlay}`, 'components:', `  - ${deploy}/components/group-snapshots`, '',
    ].join('\n'));
    const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20, stdio: ['ignore', 'pipe', 'pipe'] });
    return parseAllDocuments(text).map((d) => d.toJS() as K8sObject).filter((o) => o != null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const overlay of overlayNames()) {
  test(`group-snapshots component on overlay ${overlay}: snapshotter flag, class, RBAC`, () => {
    const objects = renderWithComponent(overlay);
    const pod = workload(objects, 'Deployment', 'berth-control');
    assert.ok((container(pod, 'csi-snapshotter').args ?? []).includes('--enable-volume-group-snapshots'));
    for (const c of pod.pod.containers) {
      if (c.name !== 'csi-snapshotter') assert.ok(!(c.args ?? []).includes('--enable-volume-group-snapshots'), c.name);
    }
    const cls = find(objects, 'VolumeGroupSnapshotClass', 'berth-group-snapshots') as unknown as { driver: string; deletionPolicy: string } | undefined;
    assert.equal(cls?.driver, DRIVER);
    assert.equal(cls?.deletionPolicy, 'Delete');
    const role = find(objects, 'ClusterRole', 'berth-csi-group-snapshotter') as unknown as { rules: { resources: string[]; verbs: string[] }[] };
    assert.ok(role.rules.some((r) => r.resources.includes('volumegroupsnapshotcontents') && r.verbs.includes('update')));
    const binding = find(objects, 'ClusterRoleBinding', 'berth-csi-group-snapshotter') as unknown as { subjects: { name: string; namespace: string }[] };
    assert.deepEqual(binding.subjects.map((s) => `${s.namespace}/${s.name}`), ['berth-system/berth-control']);
  });
}
