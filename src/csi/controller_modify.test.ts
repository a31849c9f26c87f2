import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../util/log.ts';
import { CONTROLLER_CAPABILITIES, controllerHandlers } from './controller.ts';
import { FakeControlPlane } from './fake_control_plane.ts';

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;
const cap = { access_type: 'mount' as const, mount: { fs_type: 'ext4', mount_flags: [], volume_mount_group: '' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

describe('ControllerModifyVolume (MODIFY_VOLUME, VolumeAttributesClass)', () => {
  const setup = () => {
    const backend = new FakeControlPlane();
    backend.addNode({ id: 'n1', segments: { 'topology.berth.io/zone': 'a' }, freeBytes: 8 * 2 ** 30 });
    backend.addNode({ id: 'n2', segments: { 'topology.berth.io/zone': 'b' }, freeBytes: 8 * 2 ** 30 });
    return { backend, h: controllerHandlers(backend, silentLogger()) };
  };

  it('is advertised, and changes the replica count; the same count again calls nothing', async () => {
    assert.ok((CONTROLLER_CAPABILITIES as readonly string[]).includes('MODIFY_VOLUME'));
    const { backend, h } = setup();
    const made = (await h.CreateVolume({ name: 'v', volume_capabilities: [cap], parameters: {}, secrets: {} })) as { volume: { volume_id: string } };
    const id = made.volume.volume_id;
    await h.ControllerModifyVolume({ volume_id: id, mutable_parameters: { replicas: '2' } });
    assert.equal((await backend.getVolume(id))?.parameters.replicas, 2);
    const before = backend.calls.length;
    await h.ControllerModifyVolume({ volume_id: id, mutable_parameters: { replicas: '02' } });
    assert.ok(!backend.calls.slice(before).some((c) => c.startsWith('modifyVolume')));
  });

  it('refuses a missing id, an unknown volume, and keys that are not mutable', async () => {
    const { h } = setup();
    await assert.rejects(h.ControllerModifyVolume({ volume_id: '', mutable_parameters: { replicas: '2' } }), code('CSI_MISSING_FIELD'));
    await assert.rejects(h.ControllerModifyVolume({ volume_id: 'nope', mutable_parameters: { replicas: '2' } }), code('CSI_VOLUME_NOT_FOUND'));
    const made = (await h.CreateVolume({ name: 'v', volume_capabilities: [cap], parameters: {}, secrets: {} })) as { volume: { volume_id: string } };
    await assert.rejects(h.ControllerModifyVolume({ volume_id: made.volume.volume_id, mutable_parameters: { XXX_FakeKey: 'x' } }), code('CSI_INVALID_ARGUMENT'));
    await assert.rejects(h.ControllerModifyVolume({ volume_id: made.volume.volume_id, mutable_parameters: { fsType: 'xfs' } }), /cannot be changed/);
    await assert.rejects(h.ControllerModifyVolume({ volume_id: made.volume.volume_id, mutable_parameters: { replicas: '9' } }), code('CSI_INVALID_ARGUMENT'));
  });

  it('CreateVolume takes a VolumeAttributesClass\'s parameters over the StorageClass\'s, and refuses others', async () => {
    const { backend, h } = setup();
    const made = (await h.CreateVolume({ name: 'vac', volume_capabilities: [cap], parameters: { replicas: '1' }, mutable_parameters: { replicas: '2' }, secrets: {} })) as { volume: { volume_id: string } };
    assert.equal((await backend.getVolume(made.volume.volume_id))?.parameters.replicas, 2);
    await assert.rejects(h.CreateVolume({ name: 'bad', volume_capabilities: [cap], parameters: {}, mutable_parameters: { XXX_FakeKey: 'x' }, secrets: {} }), code('CSI_INVALID_ARGUMENT'));
  });
});
