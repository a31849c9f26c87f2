/**
 * deploy/components/local-attach on top of each shipped overlay: the engine gets the
 * flag and its directory under the kubelet dir with Bidirectional propagation (so its
 * FUSE mounts reach the host), and the node plugin the engine's address on the node.
 * Upgrades go through berth-engine-code: it installs the image's tree where the engine's
 * keeper runs its worker from, and the engine DaemonSet is not replaced on its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { container, flagValue, overlayNames, renderWithComponent, workload } from './render_kit.ts';

const DIR = '/var/lib/kubelet/plugins/csi.berth.io/local';
const CODE = '/var/lib/berth/engine-code';

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

  test(`local-attach component on overlay ${overlay}: the engine runs its worker from what berth-engine-code installs, and is OnDelete`, () => {
    const objects = renderWithComponent(overlay, 'local-attach');
    const engine = workload(objects, 'DaemonSet', 'berth-engine');
    const e = container(engine, 'engine');
    assert.equal(flagValue(e.args ?? [], 'worker-code'), `${CODE}/current`);
    assert.deepEqual(e.volumeMounts?.find((m) => m.mountPath === CODE), { name: 'engine-code', mountPath: CODE, readOnly: true });
    assert.equal((engine.owner.spec as { updateStrategy?: { type?: string } }).updateStrategy?.type, 'OnDelete');
    const code = workload(objects, 'DaemonSet', 'berth-engine-code');
    const install = container(code, 'install');
    assert.equal(install.image, e.image, 'the same image as the engine');
    const cmd = (install.command ?? []).join(' ');
    assert.match(cmd, new RegExp(`src/engine/install_code_main\\.ts --into=${CODE}( |')`));
    assert.equal(install.volumeMounts?.find((m) => m.mountPath === CODE)?.readOnly, undefined, 'the installer writes');
    const vols = (p: typeof engine.pod) => p.volumes ?? [];
    assert.equal(vols(code.pod).find((v) => v.name === 'engine-code')?.hostPath?.path, CODE);
    assert.equal(vols(engine.pod).find((v) => v.name === 'engine-code')?.hostPath?.path, CODE);
    assert.deepEqual(code.pod.nodeSelector, engine.pod.nodeSelector, 'on every storage node');
  });
}
