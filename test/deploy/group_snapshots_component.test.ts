/**
 * deploy/components/group-snapshots, rendered on top of each shipped overlay: the flag
 * lands on csi-snapshotter (the component patches it by position), the class names the
 * driver, and the snapshotter's service account gets the group rights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DRIVER, container, find, overlayNames, renderWithComponent, workload } from './render_kit.ts';

for (const overlay of overlayNames()) {
  test(`group-snapshots component on overlay ${overlay}: snapshotter flag, class, RBAC`, () => {
    const objects = renderWithComponent(overlay, 'group-snapshots');
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
