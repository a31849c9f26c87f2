/**
 * End to end, with real processes: the control plane (SQLite), an engine registered by
 * heartbeat with an `initiatorIqn` label, and the CSI plugin (controller + node in one
 * process, `--control-plane http://…`, user-space attach: qemu-storage-daemon FUSE +
 * loop) logging in to Berth's own iSCSI target. The test plays the orchestrator over the
 * plugin's unix socket: create → publish → stage → publish → write → unpublish →
 * unstage → stage again → data intact → unpublish → delete, and checks that no process,
 * mount, loop device or pool space is left behind. Snapshots, restore, clones and
 * expansion: csi_e2e_snapshots.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { waitFor } from '../helpers/tools.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { INITIATOR, MiB, engineVolumes, nodeOnline, poolOnline, registeredEngine } from '../control_plane/cp_kit.ts';
import { startCsiPlugin, type CsiProcess } from './csi_process.ts';
import { clearLeftovers, leftovers, poolFree } from './csi_e2e_kit.ts';

const NODE = 'node-e2e';
const NODE_B = 'node-e2e-b';
const POD_UID = '3f1c2a9e-5b7d-4c1e-9a0b-e2e000000001';
const cap = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const params = { replicas: '1', fsType: 'ext4' };

interface CpVolume {
  id: string;
  publishedNodeId?: string;
  pods: { podUid: string; podName: string; podNamespace: string; nodeId?: string }[];
}

describe('CSI end to end through the control plane, an engine and the user-space attach path', () => {
  let dir: string;
  let plane: ControlPlaneProcess;
  let engine: EngineProcess;
  let engineB: EngineProcess | undefined;
  let csi: CsiProcess;
  let freeBefore = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-csi-e2e-'));
    plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}` });
    engine = await registeredEngine([plane.url], NODE);
    await nodeOnline(plane.url, NODE);
    await poolOnline(plane.url, NODE, 'p1', 256 * MiB);
    freeBefore = await poolFree(engine, 'p1');
    csi = await startCsiPlugin(join(dir, 'csi.sock'), [
      '--mode', 'all', '--node-id', NODE, '--state-dir', join(dir, 'state'), '--attacher', 'userspace',
      '--initiator-name', INITIATOR, '--control-plane', plane.url,
    ]);
  });

  after(async () => {
    await csi?.stop();
    await clearLeftovers(dir);
    await engineB?.stop();
    await engine?.stop();
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (service: 'Controller' | 'Node', method: string, req: object) => csi.client.call(service, method, req);
  const callError = (service: 'Controller' | 'Node', method: string, req: object) => csi.client.callError(service, method, req);

  it('creates, publishes, stages, writes, restages with the data intact, and deletes, leaving nothing behind', async () => {
    const created = await call('Controller', 'CreateVolume', { name: 'pvc-e2e-1', capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: [cap], parameters: params });
    const volumeId: string = created.volume.volume_id;
    assert.equal(Number(created.volume.capacity_bytes), 64 * MiB);
    assert.equal(created.volume.volume_context.fsType, 'ext4');
    assert.ok(freeBefore - (await poolFree(engine, 'p1')) >= 64 * MiB, 'the thick replica took its space from the pool');

    const published = await call('Controller', 'ControllerPublishVolume', { volume_id: volumeId, node_id: NODE, volume_capability: cap, readonly: false });
    const ctx: Record<string, string> = published.publish_context;
    assert.equal(ctx.targetPortal, `${engine.iscsi.host}:${engine.iscsi.port}`);
    assert.match(ctx.targetIqn, /^iqn\.2026-11\.io\.berth:vol-/);
    assert.equal(ctx.lun, '0');
    const got = await call('Controller', 'ControllerGetVolume', { volume_id: volumeId });
    assert.deepEqual(got.status.published_node_ids, [NODE]);
    assert.equal(got.status.volume_condition.abnormal, false, got.status.volume_condition.message);
    // Attachable from every node (iSCSI), not only where its replica is: no topology constraint.
    assert.deepEqual(got.volume.accessible_topology, []);

    const staging = join(dir, 'kubelet', 'staging', 'pvc-e2e-1');
    const podVolumes = join(dir, 'kubelet', 'pods', POD_UID, 'volumes', 'kubernetes.io~csi', 'pvc-e2e-1');
    const target = join(podVolumes, 'mount');
    await mkdir(staging, { recursive: true });
    await mkdir(podVolumes, { recursive: true });
    const stage = { volume_id: volumeId, staging_target_path: staging, volume_capability: cap, publish_context: ctx, volume_context: created.volume.volume_context };
    await call('Node', 'NodeStageVolume', stage);
    const attached = await leftovers(dir);
    assert.equal(attached.processes.length, 1, 'one qemu-storage-daemon logged in to the engine\'s target');
    assert.equal(attached.loops.length, 1, 'one loop device on its FUSE export');
    assert.deepEqual(attached.mounts.filter((m) => !m.endsWith('lun.img')), [staging]);
    const podContext = { ...created.volume.volume_context, 'csi.storage.k8s.io/pod.name': 'app-0', 'csi.storage.k8s.io/pod.namespace': 'e2e', 'csi.storage.k8s.io/pod.uid': POD_UID };
    await call('Node', 'NodePublishVolume', { volume_id: volumeId, staging_target_path: staging, target_path: target, volume_capability: cap, publish_context: ctx, volume_context: podContext, readonly: false });

    const withPod = await cp<CpVolume>(plane.url, 'GET', `/v1/volumes/${volumeId}`);
    assert.equal(withPod.body.publishedNodeId, NODE);
    assert.deepEqual(withPod.body.pods.map((p) => [p.podUid, p.podName, p.podNamespace, p.nodeId]), [[POD_UID, 'app-0', 'e2e', NODE]], 'podInfoOnMount recorded');

    const payload = Buffer.alloc(3 * MiB, 'berth e2e ');
    await writeFile(join(target, 'hello.txt'), 'written through the CSI mount\n', { flush: true });
    await mkdir(join(target, 'dir'));
    await writeFile(join(target, 'dir', 'big.bin'), payload, { flush: true });

    await call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: target });
    assert.deepEqual((await cp<CpVolume>(plane.url, 'GET', `/v1/volumes/${volumeId}`)).body.pods, [], 'the pod record goes with the mount');
    await call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: staging });
    assert.deepEqual(await leftovers(dir), { mounts: [], loops: [], processes: [] }, 'unstage ends the session, loop and daemon');

    await call('Node', 'NodeStageVolume', stage);
    assert.equal(await readFile(join(staging, 'hello.txt'), 'utf8'), 'written through the CSI mount\n', 'a new session sees the files');
    assert.ok(payload.equals(await readFile(join(staging, 'dir', 'big.bin'))), 'and their bytes; nothing was reformatted');
    await call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: staging });
    await call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: staging });

    await call('Controller', 'ControllerUnpublishVolume', { volume_id: volumeId, node_id: NODE });
    await call('Controller', 'ControllerUnpublishVolume', { volume_id: volumeId, node_id: NODE });
    assert.equal((await cp<CpVolume>(plane.url, 'GET', `/v1/volumes/${volumeId}`)).body.publishedNodeId, undefined);
    await call('Controller', 'DeleteVolume', { volume_id: volumeId });
    await call('Controller', 'DeleteVolume', { volume_id: volumeId });

    assert.equal((await cp(plane.url, 'GET', `/v1/volumes/${volumeId}`)).status, 404);
    assert.deepEqual((await engineVolumes(engine, 'p1')).map((v) => v.name), [], 'no replica left on the engine');
    assert.equal(await poolFree(engine, 'p1'), freeBefore, 'the pool is back to its free bytes');
    assert.deepEqual(await leftovers(dir), { mounts: [], loops: [], processes: [] });
    assert.deepEqual(await readdir(join(dir, 'state', 'userspace')), [], 'no daemon files left');
  });

  it('CreateVolume is idempotent through the control plane; another size under the same name is ALREADY_EXISTS', async () => {
    const req = { name: 'pvc-e2e-idem', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [cap], parameters: params };
    const first = await call('Controller', 'CreateVolume', req);
    const again = await call('Controller', 'CreateVolume', req);
    assert.equal(again.volume.volume_id, first.volume.volume_id);
    assert.equal(Number(again.volume.capacity_bytes), 16 * MiB);
    assert.equal((await engineVolumes(engine, 'p1')).length, 1, 'one replica, not two');
    const other = await callError('Controller', 'CreateVolume', { ...req, capacity_range: { required_bytes: 32 * MiB } });
    assert.equal(other.code, status.ALREADY_EXISTS, other.details);
    const thin = await callError('Controller', 'CreateVolume', { ...req, parameters: { ...params, thin: 'true' } });
    assert.equal(thin.code, status.ALREADY_EXISTS, thin.details);
    const listed = await call('Controller', 'ListVolumes', {});
    assert.deepEqual(listed.entries.map((e: { volume: { volume_id: string } }) => e.volume.volume_id), [first.volume.volume_id]);
    await call('Controller', 'DeleteVolume', { volume_id: first.volume.volume_id });
    assert.equal(await poolFree(engine, 'p1'), freeBefore);
  });

  it('GetCapacity: the pool\'s free bytes for a pod in any zone; a zone-local class only in the pool\'s zone', async () => {
    // The control plane learns pool usage from heartbeats (every 5 s): wait for one after the last delete.
    const free = await poolFree(engine, 'p1');
    const all = await waitFor('GetCapacity to show the pool\'s free bytes', async () => {
      const r = await call('Controller', 'GetCapacity', { parameters: params });
      return Number(r.available_capacity) === free ? r : undefined;
    }, 15_000, 500);
    const inZone = await call('Controller', 'GetCapacity', { parameters: params, accessible_topology: { segments: { 'topology.berth.io/zone': 'z1' } } });
    assert.equal(inZone.available_capacity, all.available_capacity);
    const elsewhere = await call('Controller', 'GetCapacity', { parameters: params, accessible_topology: { segments: { 'topology.berth.io/zone': 'z9' } } });
    assert.equal(elsewhere.available_capacity, all.available_capacity, 'a pod in z9 can use a volume whose replica is in z1');
    const local = { ...params, locality: 'zone' };
    const localHere = await call('Controller', 'GetCapacity', { parameters: local, accessible_topology: { segments: { 'topology.berth.io/zone': 'z1' } } });
    assert.equal(localHere.available_capacity, all.available_capacity);
    const localElsewhere = await call('Controller', 'GetCapacity', { parameters: local, accessible_topology: { segments: { 'topology.berth.io/zone': 'z9' } } });
    assert.equal(Number(localElsewhere.available_capacity), 0);
    const hdd = await call('Controller', 'GetCapacity', { parameters: { ...params, type: 'hdd' } });
    assert.equal(Number(hdd.available_capacity), 0, 'the engine\'s pools are ssd');
  });

  it('a zone-local class (locality: zone) is created in the pod\'s zone and attachable there only; none in a zone without storage', async () => {
    const local = { ...params, locality: 'zone' };
    const pod = (zone: string) => ({ preferred: [{ segments: { 'topology.berth.io/zone': zone, 'topology.berth.io/node': 'compute-9' } }], requisite: [] });
    const req = { name: 'pvc-e2e-local', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [cap], parameters: local };
    const made = await call('Controller', 'CreateVolume', { ...req, accessibility_requirements: pod('z1') });
    assert.deepEqual(made.volume.accessible_topology, [{ segments: { 'topology.berth.io/zone': 'z1' } }]);
    assert.equal((await cp<{ zone?: string }>(plane.url, 'GET', `/v1/volumes/${made.volume.volume_id}`)).body.zone, 'z1');
    const elsewhere = await callError('Controller', 'CreateVolume', { ...req, name: 'pvc-e2e-local-z9', accessibility_requirements: pod('z9') });
    assert.equal(elsewhere.code, status.RESOURCE_EXHAUSTED, elsewhere.details);
    const nowhere = await callError('Controller', 'CreateVolume', { ...req, name: 'pvc-e2e-local-none' });
    assert.equal(nowhere.code, status.INVALID_ARGUMENT, nowhere.details);
    await call('Controller', 'DeleteVolume', { volume_id: made.volume.volume_id });
  });

  it('answers NOT_FOUND for an unknown volume or node, RESOURCE_EXHAUSTED when nothing can place it', async () => {
    const unknownPublish = await callError('Controller', 'ControllerPublishVolume', { volume_id: 'no-such-volume', node_id: NODE, volume_capability: cap, readonly: false });
    assert.equal(unknownPublish.code, status.NOT_FOUND, unknownPublish.details);
    const unknownGet = await callError('Controller', 'ControllerGetVolume', { volume_id: 'no-such-volume' });
    assert.equal(unknownGet.code, status.NOT_FOUND, unknownGet.details);
    const unknownExpand = await callError('Controller', 'ControllerExpandVolume', { volume_id: 'no-such-volume', capacity_range: { required_bytes: 32 * MiB } });
    assert.equal(unknownExpand.code, status.NOT_FOUND, unknownExpand.details);
    await call('Controller', 'DeleteVolume', { volume_id: 'no-such-volume' });

    const v = await call('Controller', 'CreateVolume', { name: 'pvc-e2e-err', capacity_range: { required_bytes: 8 * MiB }, volume_capabilities: [cap], parameters: params });
    const stranger = await callError('Controller', 'ControllerPublishVolume', { volume_id: v.volume.volume_id, node_id: 'node-unknown', volume_capability: cap, readonly: false });
    assert.equal(stranger.code, status.NOT_FOUND, stranger.details);
    await call('Controller', 'DeleteVolume', { volume_id: v.volume.volume_id });

    const two = await callError('Controller', 'CreateVolume', { name: 'pvc-e2e-two', capacity_range: { required_bytes: 8 * MiB }, volume_capabilities: [cap], parameters: { ...params, replicas: '2' } });
    assert.equal(two.code, status.RESOURCE_EXHAUSTED, two.details);
    const huge = await callError('Controller', 'CreateVolume', { name: 'pvc-e2e-huge', capacity_range: { required_bytes: 64 * 1024 * MiB }, volume_capabilities: [cap], parameters: params });
    assert.equal(huge.code, status.RESOURCE_EXHAUSTED, huge.details);
    assert.match(huge.details, /min_free_space/);
  });

  it('a 2-replica volume is created on two engines and published through a nexus on the publishing node', async () => {
    engineB = await registeredEngine([plane.url], NODE_B, `zone=z1,storageGroup=r2,media=ssd,initiatorIqn=${INITIATOR}-b`);
    await nodeOnline(plane.url, NODE_B);
    await poolOnline(plane.url, NODE_B, 'p1', 128 * MiB);
    const v = await call('Controller', 'CreateVolume', { name: 'pvc-e2e-mirror', capacity_range: { required_bytes: 8 * MiB }, volume_capabilities: [cap], parameters: { ...params, replicas: '2' } });
    const volumeId: string = v.volume.volume_id;
    assert.equal((await engineVolumes(engine, 'p1')).length + (await engineVolumes(engineB, 'p1')).length, 2);
    const pub = await call('Controller', 'ControllerPublishVolume', { volume_id: volumeId, node_id: NODE, volume_capability: cap, readonly: false });
    assert.equal(pub.publish_context.targetPortal, `${engine.iscsi.host}:${engine.iscsi.port}`, 'the nexus runs where the volume is published');
    const again = await call('Controller', 'ControllerPublishVolume', { volume_id: volumeId, node_id: NODE, volume_capability: cap, readonly: false });
    assert.deepEqual(again.publish_context, pub.publish_context, 'idempotent');
    const nexus = await cp<{ nodeId: string; generation: number }>(plane.url, 'GET', `/v1/nexuses/${volumeId}`);
    assert.equal(nexus.body.nodeId, NODE);
    assert.equal(nexus.body.generation, 1);
    await call('Controller', 'ControllerUnpublishVolume', { volume_id: volumeId, node_id: NODE });
    assert.equal((await cp(plane.url, 'GET', `/v1/nexuses/${volumeId}`)).status, 404, 'unpublish destroys the nexus');
    await call('Controller', 'DeleteVolume', { volume_id: volumeId });
    assert.deepEqual(await engineVolumes(engineB, 'p1'), []);
    assert.equal(await poolFree(engine, 'p1'), freeBefore);
  });
});
