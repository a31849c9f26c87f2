/**
 * deploy/components/local-attach on top of each shipped overlay: the engine gets the
 * flag and its directory under the kubelet dir with Bidirectional propagation (so its
 * FUSE mounts reach the host), and the node plugin the engine's address on the node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { container, flagValue, overlayNames, renderWithComponent, workload } from './render_kit.ts';

const DIR = '/var/lib/kubelet/plugins/csi.berth.io/local';

for (const overlay of overlayNames()) {
  test(`local-attach component on overlay ${overlay}: engine directory and propagation, node plugin's engine address`, () => {
    const objects = renderWithComponent(overlay, 'local-attach');
    const engine = workload(objects, 'DaemonSet', 'berth-engine');
    const e = container(engine, 'engine');
    assert.equal(flagValue(e.args ?? [], 'local-attach-dir'), DIR);
    assert.deepEqual(e.volumeMounts?.find((m) => m.mountPath === DIR), { name: 'local-attach', mountPath: DIR, mountPropagation: 'Bidirectional' });
    const vol = (engine.pod as unknown as { volumes: { name: string; hostPath?: { path: string } }[] }).volumes.find((v) => v.name === 'local-attach');
    assert.equal(vol?.hostPath?.path, DIR);
    // The engine's API listens on the node's address; the node plugin shares the host network.
    assert.equal(flagValue(e.args ?? [], 'api-listen'), '$(POD_IP):9500');
    const node = container(workload(objects, 'DaemonSet', 'berth-csi-node'), 'csi-node');
    assert.equal(flagValue(node.args ?? [], 'local-attach-engine'), 'http://$(POD_IP):9500');
    assert.equal(node.env?.find((v) => v.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath, 'status.podIP');
  });
}
