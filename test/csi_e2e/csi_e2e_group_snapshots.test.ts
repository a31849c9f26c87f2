/**
 * CSI GroupController and SnapshotMetadata (spec v1.10) end to end over gRPC, against the
 * real driver, control plane and engine: two volumes made by CreateVolume and written
 * (qemu-io, through an export straight from the engine); CreateVolumeGroupSnapshot cuts
 * both; GetVolumeGroupSnapshot and ListSnapshots show the members with their group id;
 * GetMetadataAllocated streams the written ranges; after more writes and a CreateSnapshot,
 * GetMetadataDelta streams exactly the changed ones; a member restores with CreateVolume;
 * DeleteVolumeGroupSnapshot removes the members. Errors as the spec's tables say.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ok, qemuIo, assertQemuOk, type ExportDoc } from '../engine/engine_kit.ts';
import { cp } from '../control_plane/control_plane_process.ts';
import { MiB, poolOnline } from '../control_plane/cp_kit.ts';
import { engineSnapshots, startE2eEnv, type E2eEnv } from './csi_e2e_kit.ts';

const NODE = `node-e2e-group-${process.pid}`;
const block = { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const SIZE = 16 * MiB;

type Wire = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Range { offset: number; length: number }

/** Stream messages' ranges as numbers (int64 arrives as strings). */
function rangesOf(messages: Wire[]): Range[] {
  return messages.flatMap((m) => (m.block_metadata as Wire[]).map((b) => ({ offset: Number(b.byte_offset), length: Number(b.size_bytes) })));
}

const covers = (ranges: Range[], offset: number, length: number): boolean => ranges.some((r) => r.offset <= offset && offset + length <= r.offset + r.length);

describe('CSI GroupController and SnapshotMetadata against the real driver', { timeout: 300_000 }, () => {
  let env: E2eEnv;
  const exports: string[] = [];

  before(async () => {
    env = await startE2eEnv(`berth-csi-e2e-group-${process.pid}-`, NODE, ['--advertise-snapshot-metadata']);
    await poolOnline(env.plane.url, NODE, 'p1', 256 * MiB);
  });

  after(async () => {
    for (const e of exports) await fetch(`${env.engine.api}/v1/exports/p1/${e}`, { method: 'DELETE' }).catch(() => undefined);
    await env?.stop();
  });

  const call = (service: 'Identity' | 'Controller' | 'GroupController', method: string, req: object): Promise<Wire> => env.csi.client.call(service, method, req);

  /** The volume's one replica, exported from the engine so the test can write it. */
  async function exportOf(volumeId: string): Promise<string> {
    const v = await cp<{ replicaStates: { id: string }[] }>(env.plane.url, 'GET', `/v1/volumes/${volumeId}`);
    const replica = v.body.replicaStates[0].id;
    const ex = await ok<ExportDoc>(env.engine.api, 'POST', '/v1/exports', { pool: 'p1', volume: replica, allowedInitiators: null });
    exports.push(replica);
    return ex.url;
  }

  it('advertises both services and the group capability', async () => {
    const caps = (await call('Identity', 'GetPluginCapabilities', {})).capabilities.map((c: Wire) => c.service?.type).filter(Boolean);
    assert.ok(caps.includes('GROUP_CONTROLLER_SERVICE') && caps.includes('SNAPSHOT_METADATA_SERVICE'), JSON.stringify(caps));
    const g = await call('GroupController', 'GroupControllerGetCapabilities', {});
    assert.deepEqual(g.capabilities.map((c: Wire) => c.rpc.type), ['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT']);
  });

  it('group snapshot, allocated and delta blocks, restore, delete', async () => {
    const vols: string[] = [];
    for (const name of ['pvc-g-a', 'pvc-g-b']) {
      const r = await call('Controller', 'CreateVolume', { name, capacity_range: { required_bytes: SIZE }, volume_capabilities: [block], parameters: { replicas: '1', thin: 'true' } });
      vols.push(r.volume.volume_id);
    }
    const urls = [await exportOf(vols[0]), await exportOf(vols[1])];
    assertQemuOk(await qemuIo(urls[0], ['write -P 0x11 0 1M', 'write -P 0x12 4M 64k', 'flush']), 'write a');
    assertQemuOk(await qemuIo(urls[1], ['write -P 0x21 2M 128k', 'flush']), 'write b');

    const made = await call('GroupController', 'CreateVolumeGroupSnapshot', { name: 'vgs-1', source_volume_ids: vols, parameters: {} });
    const g = made.group_snapshot;
    assert.equal(g.ready_to_use, true);
    assert.equal(g.snapshots.length, 2);
    for (const s of g.snapshots) assert.equal(s.group_snapshot_id, g.group_snapshot_id);
    const member = (vol: string): Wire => g.snapshots.find((s: Wire) => s.source_volume_id === vol);
    const again = await call('GroupController', 'CreateVolumeGroupSnapshot', { name: 'vgs-1', source_volume_ids: [vols[1], vols[0]] });
    assert.equal(again.group_snapshot.group_snapshot_id, g.group_snapshot_id, 'idempotent by name');
    const conflict = await env.csi.client.callError('GroupController', 'CreateVolumeGroupSnapshot', { name: 'vgs-1', source_volume_ids: [vols[0]] });
    assert.equal(conflict.code, status.ALREADY_EXISTS);
    const got = await call('GroupController', 'GetVolumeGroupSnapshot', { group_snapshot_id: g.group_snapshot_id, snapshot_ids: g.snapshots.map((s: Wire) => s.snapshot_id) });
    assert.equal(got.group_snapshot.snapshots.length, 2);
    const mismatch = await env.csi.client.callError('GroupController', 'GetVolumeGroupSnapshot', { group_snapshot_id: g.group_snapshot_id, snapshot_ids: ['s-other'] });
    assert.equal(mismatch.code, status.INVALID_ARGUMENT);
    const listed = await call('Controller', 'ListSnapshots', { snapshot_id: member(vols[0]).snapshot_id });
    assert.equal(listed.entries[0].snapshot.group_snapshot_id, g.group_snapshot_id);

    const alloc = rangesOf(await env.csi.client.stream('SnapshotMetadata', 'GetMetadataAllocated', { snapshot_id: member(vols[0]).snapshot_id }));
    assert.ok(covers(alloc, 0, MiB) && covers(alloc, 4 * MiB, 64 * 1024), JSON.stringify(alloc));
    assert.ok(!covers(alloc, 8 * MiB, 4096), 'unwritten space is not allocated');
    const paged = await env.csi.client.stream('SnapshotMetadata', 'GetMetadataAllocated', { snapshot_id: member(vols[0]).snapshot_id, max_results: 1 });
    assert.ok(paged.length >= 2, 'one range per message when max_results is 1');
    assert.equal(paged[0].block_metadata_type, 'VARIABLE_LENGTH');
    assert.equal(Number(paged[0].volume_capacity_bytes), SIZE);
    const fromMid = rangesOf(await env.csi.client.stream('SnapshotMetadata', 'GetMetadataAllocated', { snapshot_id: member(vols[0]).snapshot_id, starting_offset: String(2 * MiB) }));
    assert.ok(fromMid.every((r) => r.offset >= 2 * MiB) && covers(fromMid, 4 * MiB, 64 * 1024), JSON.stringify(fromMid));

    assertQemuOk(await qemuIo(urls[0], ['write -P 0x13 8M 64k', 'flush']), 'write a again');
    const later = (await call('Controller', 'CreateSnapshot', { source_volume_id: vols[0], name: 'snap-later', parameters: {} })).snapshot;
    const delta = rangesOf(await env.csi.client.stream('SnapshotMetadata', 'GetMetadataDelta', {
      base_snapshot_id: member(vols[0]).snapshot_id, target_snapshot_id: later.snapshot_id,
    }));
    assert.ok(covers(delta, 8 * MiB, 64 * 1024), JSON.stringify(delta));
    assert.ok(!covers(delta, 0, 4096) && !covers(delta, 4 * MiB, 4096), `unchanged blocks are not in the delta: ${JSON.stringify(delta)}`);

    // Errors.
    const sm = env.csi.client;
    assert.equal((await sm.streamError('SnapshotMetadata', 'GetMetadataAllocated', {})).code, status.INVALID_ARGUMENT);
    assert.equal((await sm.streamError('SnapshotMetadata', 'GetMetadataAllocated', { snapshot_id: 's-nope' })).code, status.NOT_FOUND);
    assert.equal((await sm.streamError('SnapshotMetadata', 'GetMetadataAllocated', { snapshot_id: later.snapshot_id, starting_offset: String(SIZE) })).code, status.OUT_OF_RANGE);
    assert.equal((await sm.streamError('SnapshotMetadata', 'GetMetadataDelta', { base_snapshot_id: member(vols[1]).snapshot_id, target_snapshot_id: later.snapshot_id })).code, status.FAILED_PRECONDITION);
    assert.equal((await env.csi.client.callError('GroupController', 'GetVolumeGroupSnapshot', { group_snapshot_id: 'g-nope' })).code, status.NOT_FOUND);
    assert.equal((await env.csi.client.callError('GroupController', 'CreateVolumeGroupSnapshot', { name: 'vgs-2', source_volume_ids: [] })).code, status.INVALID_ARGUMENT);

    // A member restores like any snapshot.
    const restored = await call('Controller', 'CreateVolume', {
      name: 'pvc-g-restored', capacity_range: { required_bytes: SIZE }, volume_capabilities: [block], parameters: { replicas: '1', thin: 'true' },
      volume_content_source: { snapshot: { snapshot_id: member(vols[1]).snapshot_id } },
    });
    const rUrl = await exportOf(restored.volume.volume_id);
    assertQemuOk(await qemuIo(rUrl, ['read -P 0x21 2M 128k', 'read -P 0 0 1M']), 'restored member reads b');

    await call('GroupController', 'DeleteVolumeGroupSnapshot', { group_snapshot_id: g.group_snapshot_id, snapshot_ids: g.snapshots.map((s: Wire) => s.snapshot_id) });
    await call('GroupController', 'DeleteVolumeGroupSnapshot', { group_snapshot_id: g.group_snapshot_id });
    const left = await engineSnapshots(env.engine, 'p1');
    assert.deepEqual(left.filter((s) => g.snapshots.some((m: Wire) => m.snapshot_id === s)), []);
    assert.equal((await env.csi.client.callError('GroupController', 'GetVolumeGroupSnapshot', { group_snapshot_id: g.group_snapshot_id })).code, status.NOT_FOUND);
  });
});
