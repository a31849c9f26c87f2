/**
 * CSI conformance, Identity and volume lifecycle RPCs, over the real gRPC unix socket
 * against FakeControlPlane (a stand-in for the control plane REST API, not yet built).
 */
import { Client, credentials, status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FakeControlPlane } from '../../src/csi/fake_control_plane.ts';
import type { CreateVolumeArgs, Volume } from '../../src/csi/backend.ts';
import { blockCap, createReq, GiB, MiB, mountCap, startController, ZONE_KEY, type ControllerKit } from './controller_kit.ts';

describe('CSI identity', () => {
  let kit: ControllerKit;
  before(async () => (kit = await startController()));
  after(() => kit.close());

  it('GetPluginInfo names the driver', async () => {
    const r = await kit.client.call('Identity', 'GetPluginInfo');
    assert.equal(r.name, 'csi.berth.io');
    assert.match(r.vendor_version, /^\d+\.\d+\.\d+/);
  });

  it('GetPluginCapabilities offers the controller, topology and online expansion', async () => {
    const r = await kit.client.call('Identity', 'GetPluginCapabilities');
    const services = r.capabilities.filter((c: { type: string }) => c.type === 'service').map((c: { service: { type: string } }) => c.service.type);
    assert.deepEqual(services.sort(), ['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS']);
    assert.ok(r.capabilities.some((c: { volume_expansion?: { type: string } }) => c.volume_expansion?.type === 'ONLINE'));
  });

  it('Probe reports ready', async () => {
    const r = await kit.client.call('Identity', 'Probe');
    assert.equal(r.ready.value, true);
  });

  it('the Node service is not served by a controller-only process', async () => {
    const e = await kit.client.callError('Node', 'NodeGetInfo');
    assert.equal(e.code, status.UNIMPLEMENTED);
  });
});

describe('CSI controller: volumes', () => {
  let kit: ControllerKit;
  before(async () => (kit = await startController()));
  after(() => kit.close());

  it('ControllerGetCapabilities lists every capability Berth implements', async () => {
    const r = await kit.client.call('Controller', 'ControllerGetCapabilities');
    const types = r.capabilities.map((c: { rpc: { type: string } }) => c.rpc.type);
    for (const t of ['CREATE_DELETE_VOLUME', 'PUBLISH_UNPUBLISH_VOLUME', 'LIST_VOLUMES', 'GET_CAPACITY', 'CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS', 'CLONE_VOLUME', 'EXPAND_VOLUME', 'GET_VOLUME', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER']) {
      assert.ok(types.includes(t), `missing ${t}`);
    }
  });

  it('CreateVolume creates a volume rounded to whole MiB with its context and topology', async () => {
    const req = createReq({ capacity_range: { required_bytes: String(GiB + 1), limit_bytes: '0' } });
    const r = await kit.client.call('Controller', 'CreateVolume', req);
    assert.equal(Number(r.volume.capacity_bytes), GiB + MiB);
    assert.match(r.volume.volume_id, /^vol-/);
    assert.equal(r.volume.volume_context.fsType, 'ext4');
    assert.equal(r.volume.volume_context.replicas, '2');
    assert.equal(r.volume.accessible_topology.length, 2, 'two replicas on two zones');
  });

  it('CreateVolume with the same name and parameters returns the same volume without a second create', async () => {
    const req = createReq();
    const a = await kit.client.call('Controller', 'CreateVolume', req);
    const creates = kit.fake.calls.filter((c) => c.startsWith('createVolume')).length;
    const b = await kit.client.call('Controller', 'CreateVolume', req);
    assert.equal(b.volume.volume_id, a.volume.volume_id);
    assert.equal(kit.fake.calls.filter((c) => c.startsWith('createVolume')).length, creates);
  });

  it('CreateVolume with the same name and another size or parameters is ALREADY_EXISTS', async () => {
    const req = createReq();
    await kit.client.call('Controller', 'CreateVolume', req);
    const bigger = await kit.client.callError('Controller', 'CreateVolume', { ...req, capacity_range: { required_bytes: String(2 * GiB) } });
    assert.equal(bigger.code, status.ALREADY_EXISTS);
    const other = await kit.client.callError('Controller', 'CreateVolume', { ...req, parameters: { replicas: '3' } });
    assert.equal(other.code, status.ALREADY_EXISTS);
  });

  it('CreateVolume compares parameters by meaning: other spellings match, another fsType (class or capability) does not', async () => {
    const req = createReq();
    const a = await kit.client.call('Controller', 'CreateVolume', req);
    const spelled = await kit.client.call('Controller', 'CreateVolume', { ...req, parameters: { replicas: '02', thin: 'false', 'csi.storage.k8s.io/pvc/name': 'x' } });
    assert.equal(spelled.volume.volume_id, a.volume.volume_id, '"02", a default spelled out, fsType from the capability and sidecar keys are the same request');
    const xfsClass = await kit.client.callError('Controller', 'CreateVolume', { ...req, volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'xfs')], parameters: { replicas: '2', fsType: 'xfs' } });
    assert.equal(xfsClass.code, status.ALREADY_EXISTS, xfsClass.details);
    const xfsCap = await kit.client.callError('Controller', 'CreateVolume', { ...req, volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'xfs')], parameters: { replicas: '2' } });
    assert.equal(xfsCap.code, status.ALREADY_EXISTS, xfsCap.details);
    const ok = await kit.client.call('Controller', 'ValidateVolumeCapabilities', { volume_id: a.volume.volume_id, volume_capabilities: [mountCap()], parameters: { replicas: '2' } });
    assert.ok(ok.confirmed, 'a class without fsType leaves it to the capability');
    const bad = await kit.client.call('Controller', 'ValidateVolumeCapabilities', { volume_id: a.volume.volume_id, volume_capabilities: [mountCap()], parameters: { replicas: '2', nope: '1' } });
    assert.equal(bad.confirmed, null);
    assert.match(bad.message, /unknown parameter/);
  });

  it('CreateVolume refuses missing or bad fields with INVALID_ARGUMENT', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: '' }, /name is required/],
      [{ name: 'x'.repeat(200) }, /longer than 128/],
      [{ volume_capabilities: [] }, /volume_capabilities is required/],
      [{ volume_capabilities: [{ mount: {} }] }, /access_mode is required/],
      [{ volume_capabilities: [mountCap('MULTI_NODE_MULTI_WRITER')] }, /one node only/],
      [{ volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'btrfs')] }, /btrfs is not supported/],
      [{ capacity_range: { required_bytes: String(2 * GiB), limit_bytes: String(GiB) } }, /limit_bytes is smaller/],
      [{ capacity_range: { required_bytes: '-5' } }, /whole number of bytes/],
      [{ parameters: { replicas: '7' } }, /replicas: must be a whole number from 1 to 5/],
      [{ parameters: { type: 'nvme', thin: 'maybe' } }, /type: must be one of hdd, ssd, slice.*thin: must be true or false/],
      [{ parameters: { transport: 'nvmf' } }, /nvmf is not supported yet/],
      [{ parameters: { colour: 'blue' } }, /unknown parameter "colour"/],
      [{ parameters: { fsType: 'xfs' }, volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'ext4')] }, /ask for ext4 but the StorageClass fsType is xfs/],
    ];
    for (const [over, message] of cases) {
      const e = await kit.client.callError('Controller', 'CreateVolume', createReq(over));
      assert.equal(e.code, status.INVALID_ARGUMENT, JSON.stringify(over));
      assert.match(e.details, message);
    }
  });

  it('CreateVolume accepts the sidecars\' csi.storage.k8s.io/ keys and block volumes', async () => {
    const r = await kit.client.call('Controller', 'CreateVolume', createReq({
      parameters: { replicas: '1', 'csi.storage.k8s.io/pvc/name': 'data', 'csi.storage.k8s.io/fstype': 'xfs' },
      volume_capabilities: [blockCap('MULTI_NODE_MULTI_WRITER')],
    }));
    assert.ok(r.volume.volume_id);
  });

  it('CreateVolume answers OUT_OF_RANGE beyond maxVolumeSize and RESOURCE_EXHAUSTED beyond free space', async () => {
    const tooBig = await kit.client.callError('Controller', 'CreateVolume', createReq({ parameters: { maxVolumeSize: '1Gi' }, capacity_range: { required_bytes: String(2 * GiB) } }));
    assert.equal(tooBig.code, status.OUT_OF_RANGE);
    const noRoom = await kit.client.callError('Controller', 'CreateVolume', createReq({ capacity_range: { required_bytes: String(500 * GiB) } }));
    assert.equal(noRoom.code, status.RESOURCE_EXHAUSTED);
    assert.match(noRoom.details, /cannot place 2 replica/);
  });

  it('CreateVolume honours minVolumeSize and the requisite topology', async () => {
    const r = await kit.client.call('Controller', 'CreateVolume', createReq({
      parameters: { replicas: '1', minVolumeSize: '3Gi' },
      accessibility_requirements: { requisite: [{ segments: { [ZONE_KEY]: 'c' } }], preferred: [] },
    }));
    assert.equal(Number(r.volume.capacity_bytes), 3 * GiB);
    assert.deepEqual(r.volume.accessible_topology, [{ segments: { [ZONE_KEY]: 'c' } }]);
    const nowhere = await kit.client.callError('Controller', 'CreateVolume', createReq({
      accessibility_requirements: { requisite: [{ segments: { [ZONE_KEY]: 'z' } }], preferred: [] },
    }));
    assert.equal(nowhere.code, status.RESOURCE_EXHAUSTED);
  });

  it('CreateVolume from a snapshot or a volume records its content source; bad sources are refused', async () => {
    const src = await kit.client.call('Controller', 'CreateVolume', createReq({ parameters: { replicas: '1' } }));
    const snap = await kit.client.call('Controller', 'CreateSnapshot', { name: `snap-src-${process.pid}`, source_volume_id: src.volume.volume_id });
    const fromSnap = await kit.client.call('Controller', 'CreateVolume', createReq({
      parameters: { replicas: '1' },
      volume_content_source: { snapshot: { snapshot_id: snap.snapshot.snapshot_id } },
    }));
    assert.equal(fromSnap.volume.content_source.snapshot.snapshot_id, snap.snapshot.snapshot_id);
    const fromVol = await kit.client.call('Controller', 'CreateVolume', createReq({
      parameters: { replicas: '1' },
      volume_content_source: { volume: { volume_id: src.volume.volume_id } },
    }));
    assert.equal(fromVol.volume.content_source.volume.volume_id, src.volume.volume_id);
    const missing = await kit.client.callError('Controller', 'CreateVolume', createReq({ volume_content_source: { snapshot: { snapshot_id: 'snap-nope' } } }));
    assert.equal(missing.code, status.NOT_FOUND);
    const small = await kit.client.callError('Controller', 'CreateVolume', createReq({
      capacity_range: { required_bytes: String(MiB) },
      volume_content_source: { snapshot: { snapshot_id: snap.snapshot.snapshot_id } },
    }));
    assert.equal(small.code, status.OUT_OF_RANGE);
  });

  it('DeleteVolume deletes, is idempotent, needs an id and refuses a published volume', async () => {
    const r = await kit.client.call('Controller', 'CreateVolume', createReq());
    const id = r.volume.volume_id;
    await kit.client.call('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-a', volume_capability: mountCap() });
    assert.equal((await kit.client.callError('Controller', 'DeleteVolume', { volume_id: id })).code, status.FAILED_PRECONDITION);
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id, node_id: 'node-a' });
    await kit.client.call('Controller', 'DeleteVolume', { volume_id: id });
    await kit.client.call('Controller', 'DeleteVolume', { volume_id: id });
    assert.equal((await kit.client.callError('Controller', 'ControllerGetVolume', { volume_id: id })).code, status.NOT_FOUND);
    assert.equal((await kit.client.callError('Controller', 'DeleteVolume', {})).code, status.INVALID_ARGUMENT);
  });

  it('ControllerGetVolume reports publications and the volume condition', async () => {
    const r = await kit.client.call('Controller', 'CreateVolume', createReq());
    const id = r.volume.volume_id;
    await kit.client.call('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-b', volume_capability: mountCap() });
    let g = await kit.client.call('Controller', 'ControllerGetVolume', { volume_id: id });
    assert.deepEqual(g.status.published_node_ids, ['node-b']);
    assert.equal(g.status.volume_condition.abnormal, false);
    kit.fake.setCondition(id, { abnormal: true, message: 'replica on node-c faulted; rebuilding' });
    g = await kit.client.call('Controller', 'ControllerGetVolume', { volume_id: id });
    assert.equal(g.status.volume_condition.abnormal, true);
    assert.match(g.status.volume_condition.message, /rebuilding/);
    assert.equal((await kit.client.callError('Controller', 'ControllerGetVolume', { volume_id: 'vol-nope' })).code, status.NOT_FOUND);
    assert.equal((await kit.client.callError('Controller', 'ControllerGetVolume', {})).code, status.INVALID_ARGUMENT);
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id, node_id: 'node-b' });
  });

  it('ControllerExpandVolume grows, is idempotent, and refuses what it cannot do', async () => {
    const r = await kit.client.call('Controller', 'CreateVolume', createReq({ parameters: { replicas: '1', maxVolumeSize: '4Gi' } }));
    const id = r.volume.volume_id;
    const grown = await kit.client.call('Controller', 'ControllerExpandVolume', { volume_id: id, capacity_range: { required_bytes: String(2 * GiB) } });
    assert.equal(Number(grown.capacity_bytes), 2 * GiB);
    assert.equal(grown.node_expansion_required, true);
    const again = await kit.client.call('Controller', 'ControllerExpandVolume', { volume_id: id, capacity_range: { required_bytes: String(2 * GiB) } });
    assert.equal(Number(again.capacity_bytes), 2 * GiB);
    const smaller = await kit.client.call('Controller', 'ControllerExpandVolume', { volume_id: id, capacity_range: { required_bytes: String(GiB) } });
    assert.equal(Number(smaller.capacity_bytes), 2 * GiB, 'volumes never shrink');
    assert.equal((await kit.client.callError('Controller', 'ControllerExpandVolume', { volume_id: id, capacity_range: { required_bytes: String(8 * GiB) } })).code, status.OUT_OF_RANGE);
    assert.equal((await kit.client.callError('Controller', 'ControllerExpandVolume', { volume_id: id })).code, status.INVALID_ARGUMENT);
    assert.equal((await kit.client.callError('Controller', 'ControllerExpandVolume', { volume_id: 'vol-nope', capacity_range: { required_bytes: '1' } })).code, status.NOT_FOUND);
    const big = await kit.client.call('Controller', 'CreateVolume', createReq({ parameters: { replicas: '1' } }));
    const noRoom = await kit.client.callError('Controller', 'ControllerExpandVolume', { volume_id: big.volume.volume_id, capacity_range: { required_bytes: String(400 * GiB) } });
    assert.equal(noRoom.code, status.RESOURCE_EXHAUSTED);
  });

  it('ValidateVolumeCapabilities confirms what Berth serves and explains what it does not', async () => {
    const r = await kit.client.call('Controller', 'CreateVolume', createReq());
    const id = r.volume.volume_id;
    const ok = await kit.client.call('Controller', 'ValidateVolumeCapabilities', { volume_id: id, volume_capabilities: [mountCap()] });
    assert.ok(ok.confirmed);
    const no = await kit.client.call('Controller', 'ValidateVolumeCapabilities', { volume_id: id, volume_capabilities: [mountCap('MULTI_NODE_MULTI_WRITER')] });
    assert.equal(no.confirmed, null);
    assert.match(no.message, /one node only/);
    const fs = await kit.client.call('Controller', 'ValidateVolumeCapabilities', { volume_id: id, volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'xfs')] });
    assert.equal(fs.confirmed, null);
    assert.equal((await kit.client.callError('Controller', 'ValidateVolumeCapabilities', { volume_id: 'vol-nope', volume_capabilities: [mountCap()] })).code, status.NOT_FOUND);
    assert.equal((await kit.client.callError('Controller', 'ValidateVolumeCapabilities', { volume_id: id })).code, status.INVALID_ARGUMENT);
  });

  it('ListVolumes pages with next_token and answers ABORTED to a bad token', async () => {
    const all = new Set<string>();
    let token = '';
    let pages = 0;
    do {
      const r = await kit.client.call('Controller', 'ListVolumes', { max_entries: 2, starting_token: token });
      assert.ok(r.entries.length <= 2);
      for (const e of r.entries) {
        assert.ok(!all.has(e.volume.volume_id), 'no volume twice');
        all.add(e.volume.volume_id);
        assert.ok(Array.isArray(e.status.published_node_ids));
      }
      token = r.next_token;
      pages += 1;
    } while (token !== '' && pages < 100);
    const whole = await kit.client.call('Controller', 'ListVolumes', {});
    assert.equal(all.size, whole.entries.length);
    assert.ok(pages > 1);
    assert.equal((await kit.client.callError('Controller', 'ListVolumes', { starting_token: 'not a token!' })).code, status.ABORTED);
    assert.equal((await kit.client.callError('Controller', 'ListVolumes', { starting_token: 'Zm9v' })).code, status.ABORTED);
    assert.equal((await kit.client.callError('Controller', 'ListVolumes', { max_entries: -1 })).code, status.INVALID_ARGUMENT);
  });

  it('GetCapacity reports free space overall and per topology segment, and validates parameters', async () => {
    const all = await kit.client.call('Controller', 'GetCapacity', { parameters: { replicas: '1' } });
    const zoneA = await kit.client.call('Controller', 'GetCapacity', { parameters: { replicas: '1' }, accessible_topology: { segments: { [ZONE_KEY]: 'a' } } });
    assert.ok(Number(all.available_capacity) > Number(zoneA.available_capacity));
    assert.ok(Number(zoneA.available_capacity) > 0);
    assert.ok(Number(zoneA.maximum_volume_size.value) <= Number(zoneA.available_capacity));
    const none = await kit.client.call('Controller', 'GetCapacity', { accessible_topology: { segments: { [ZONE_KEY]: 'z' } } });
    assert.equal(Number(none.available_capacity), 0);
    assert.equal((await kit.client.callError('Controller', 'GetCapacity', { parameters: { replicas: '0' } })).code, status.INVALID_ARGUMENT);
  });

  it('a request that is not valid protobuf gets a status, and the server keeps serving', async () => {
    const raw = new Client(`unix://${kit.socketPath}`, credentials.createInsecure());
    try {
      const code = await new Promise<number>((resolve) => {
        raw.makeUnaryRequest('/csi.v1.Controller/CreateVolume', (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), (err) => resolve(err?.code ?? 0));
      });
      assert.notEqual(code, status.OK);
    } finally {
      raw.close();
    }
    assert.equal((await kit.client.call('Identity', 'Probe')).ready.value, true);
  });

  it('ControllerModifyVolume (advertised): NOT_FOUND for an unknown volume, INVALID_ARGUMENT for a key that is not mutable', async () => {
    assert.equal((await kit.client.callError('Controller', 'ControllerModifyVolume', { volume_id: 'x', mutable_parameters: { replicas: '2' } })).code, status.NOT_FOUND);
    assert.equal((await kit.client.callError('Controller', 'ControllerModifyVolume', { volume_id: 'x', mutable_parameters: { fsType: 'xfs' } })).code, status.INVALID_ARGUMENT);
  });
});

/** A control plane that takes its time, so two calls for one name overlap. */
class SlowControlPlane extends FakeControlPlane {
  override async createVolume(args: CreateVolumeArgs): Promise<Volume> {
    await new Promise((r) => setTimeout(r, 200));
    return super.createVolume(args);
  }
}

describe('CSI controller: concurrency and shutdown', () => {
  it('a second call for a name in flight is ABORTED, and one volume results', async () => {
    const kit = await startController(new SlowControlPlane());
    try {
      const req = createReq();
      const results = await Promise.allSettled([kit.client.call('Controller', 'CreateVolume', req), kit.client.call('Controller', 'CreateVolume', req)]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      const aborted = results.filter((r) => r.status === 'rejected' && (r.reason as { code: number }).code === status.ABORTED);
      assert.equal(ok.length, 1);
      assert.equal(aborted.length, 1);
      const list = await kit.client.call('Controller', 'ListVolumes', {});
      assert.equal(list.entries.length, 1);
    } finally {
      await kit.close();
    }
  });

  it('stop() closes the socket and removes its file', async () => {
    const kit = await startController();
    await kit.client.call('Identity', 'Probe');
    await kit.close();
    assert.equal(existsSync(kit.socketPath), false);
  });
});
