/**
 * CSI conformance, publish and snapshot RPCs, over the real gRPC unix socket against
 * FakeControlPlane (a stand-in for the control plane REST API, not yet built).
 */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { blockCap, createReq, mountCap, startController, type ControllerKit } from './controller_kit.ts';

describe('CSI controller: publish', () => {
  let kit: ControllerKit;
  before(async () => (kit = await startController()));
  after(() => kit.close());

  const newVolume = async (over: Record<string, unknown> = {}) => (await kit.client.call('Controller', 'CreateVolume', createReq(over))).volume.volume_id as string;

  it('ControllerPublishVolume returns the target to log in to, and repeats idempotently', async () => {
    const id = await newVolume();
    const req = { volume_id: id, node_id: 'node-a', volume_capability: mountCap() };
    const a = await kit.client.call('Controller', 'ControllerPublishVolume', req);
    assert.match(a.publish_context.targetPortal, /^127\.0\.0\.1:\d+$/);
    assert.match(a.publish_context.targetIqn, /^iqn\.\d{4}-\d{2}\.io\.berth:/);
    assert.match(a.publish_context.lun, /^\d+$/);
    const b = await kit.client.call('Controller', 'ControllerPublishVolume', req);
    assert.deepEqual(b.publish_context, a.publish_context);
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id, node_id: 'node-a' });
  });

  it('the same node with another readonly flag is ALREADY_EXISTS', async () => {
    const id = await newVolume();
    await kit.client.call('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-a', volume_capability: mountCap() });
    const e = await kit.client.callError('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-a', readonly: true, volume_capability: mountCap() });
    assert.equal(e.code, status.ALREADY_EXISTS);
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id, node_id: 'node-a' });
  });

  it('a single-node access mode on another node is FAILED_PRECONDITION, SINGLE_NODE_MULTI_WRITER included', async () => {
    for (const mode of ['SINGLE_NODE_WRITER', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER']) {
      const id = await newVolume();
      await kit.client.call('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-a', volume_capability: mountCap(mode) });
      const e = await kit.client.callError('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-b', volume_capability: mountCap(mode) });
      assert.equal(e.code, status.FAILED_PRECONDITION, mode);
      assert.match(e.details, /published to node-a/);
      await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id, node_id: 'node-a' });
    }
  });

  it('multi-node modes publish to several nodes; a read-only mode needs readonly', async () => {
    const id = await newVolume();
    for (const node of ['node-a', 'node-b']) {
      await kit.client.call('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: node, readonly: true, volume_capability: mountCap('MULTI_NODE_READER_ONLY') });
    }
    const g = await kit.client.call('Controller', 'ControllerGetVolume', { volume_id: id });
    assert.deepEqual(g.status.published_node_ids.sort(), ['node-a', 'node-b']);
    const rw = await kit.client.callError('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-c', volume_capability: mountCap('MULTI_NODE_READER_ONLY') });
    assert.equal(rw.code, status.INVALID_ARGUMENT);
    // No node_id: unpublish from every node, per the spec.
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id });
    const after = await kit.client.call('Controller', 'ControllerGetVolume', { volume_id: id });
    assert.deepEqual(after.status.published_node_ids, []);

    const raw = await newVolume({ volume_capabilities: [blockCap('MULTI_NODE_MULTI_WRITER')] });
    for (const node of ['node-a', 'node-b']) {
      await kit.client.call('Controller', 'ControllerPublishVolume', { volume_id: raw, node_id: node, volume_capability: blockCap('MULTI_NODE_MULTI_WRITER') });
    }
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: raw });
  });

  it('ControllerPublishVolume names unknown volumes and nodes NOT_FOUND and missing fields INVALID_ARGUMENT', async () => {
    const id = await newVolume();
    const cases: [Record<string, unknown>, status][] = [
      [{ volume_id: 'vol-nope', node_id: 'node-a', volume_capability: mountCap() }, status.NOT_FOUND],
      [{ volume_id: id, node_id: 'node-z', volume_capability: mountCap() }, status.NOT_FOUND],
      [{ node_id: 'node-a', volume_capability: mountCap() }, status.INVALID_ARGUMENT],
      [{ volume_id: id, volume_capability: mountCap() }, status.INVALID_ARGUMENT],
      [{ volume_id: id, node_id: 'node-a' }, status.INVALID_ARGUMENT],
    ];
    for (const [req, code] of cases) {
      assert.equal((await kit.client.callError('Controller', 'ControllerPublishVolume', req)).code, code, JSON.stringify(req));
    }
  });

  it('a node at its volume limit is RESOURCE_EXHAUSTED', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await newVolume({ parameters: { replicas: '1' } }));
    for (const id of ids) await kit.client.call('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-c', volume_capability: mountCap() });
    const fourth = await newVolume({ parameters: { replicas: '1' } });
    const e = await kit.client.callError('Controller', 'ControllerPublishVolume', { volume_id: fourth, node_id: 'node-c', volume_capability: mountCap() });
    assert.equal(e.code, status.RESOURCE_EXHAUSTED);
    for (const id of ids) await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id, node_id: 'node-c' });
  });

  it('ControllerUnpublishVolume is idempotent, OK for a deleted volume, and needs volume_id', async () => {
    const id = await newVolume();
    await kit.client.call('Controller', 'ControllerPublishVolume', { volume_id: id, node_id: 'node-a', volume_capability: mountCap() });
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id, node_id: 'node-a' });
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: id, node_id: 'node-a' });
    await kit.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: 'vol-gone', node_id: 'node-a' });
    assert.equal((await kit.client.callError('Controller', 'ControllerUnpublishVolume', { node_id: 'node-a' })).code, status.INVALID_ARGUMENT);
  });
});

describe('CSI controller: snapshots', () => {
  let kit: ControllerKit;
  let source: string;
  before(async () => {
    kit = await startController();
    source = (await kit.client.call('Controller', 'CreateVolume', createReq())).volume.volume_id;
  });
  after(() => kit.close());

  it('CreateSnapshot cuts a ready snapshot of the source size, idempotently', async () => {
    const req = { name: 'snap-a', source_volume_id: source, parameters: { 'csi.storage.k8s.io/volumesnapshot/name': 'a' } };
    const a = await kit.client.call('Controller', 'CreateSnapshot', req);
    assert.equal(a.snapshot.ready_to_use, true);
    assert.equal(a.snapshot.source_volume_id, source);
    assert.equal(Number(a.snapshot.size_bytes), 2 ** 30);
    assert.ok(Number(a.snapshot.creation_time.seconds) > 1_600_000_000);
    const b = await kit.client.call('Controller', 'CreateSnapshot', req);
    assert.equal(b.snapshot.snapshot_id, a.snapshot.snapshot_id);
  });

  it('CreateSnapshot refuses a taken name, unknown sources, missing fields and unknown parameters', async () => {
    const other = (await kit.client.call('Controller', 'CreateVolume', createReq())).volume.volume_id;
    await kit.client.call('Controller', 'CreateSnapshot', { name: 'snap-b', source_volume_id: source });
    assert.equal((await kit.client.callError('Controller', 'CreateSnapshot', { name: 'snap-b', source_volume_id: other })).code, status.ALREADY_EXISTS);
    assert.equal((await kit.client.callError('Controller', 'CreateSnapshot', { name: 'snap-c', source_volume_id: 'vol-nope' })).code, status.NOT_FOUND);
    assert.equal((await kit.client.callError('Controller', 'CreateSnapshot', { name: 'snap-d' })).code, status.INVALID_ARGUMENT);
    assert.equal((await kit.client.callError('Controller', 'CreateSnapshot', { source_volume_id: source })).code, status.INVALID_ARGUMENT);
    const bad = await kit.client.callError('Controller', 'CreateSnapshot', { name: 'snap-e', source_volume_id: source, parameters: { speed: 'fast' } });
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    assert.match(bad.details, /speed/);
  });

  it('ListSnapshots filters by id and source, pages, and answers ABORTED to a bad token', async () => {
    for (const n of ['snap-p1', 'snap-p2', 'snap-p3']) await kit.client.call('Controller', 'CreateSnapshot', { name: n, source_volume_id: source });
    const bySource = await kit.client.call('Controller', 'ListSnapshots', { source_volume_id: source });
    assert.ok(bySource.entries.length >= 4);
    const one = bySource.entries[0].snapshot.snapshot_id;
    const byId = await kit.client.call('Controller', 'ListSnapshots', { snapshot_id: one });
    assert.deepEqual(byId.entries.map((e: { snapshot: { snapshot_id: string } }) => e.snapshot.snapshot_id), [one]);
    assert.equal((await kit.client.call('Controller', 'ListSnapshots', { snapshot_id: 'snap-nope' })).entries.length, 0);
    assert.equal((await kit.client.call('Controller', 'ListSnapshots', { source_volume_id: 'vol-nope' })).entries.length, 0);
    const seen: string[] = [];
    let token = '';
    do {
      const r = await kit.client.call('Controller', 'ListSnapshots', { max_entries: 1, starting_token: token });
      seen.push(...r.entries.map((e: { snapshot: { snapshot_id: string } }) => e.snapshot.snapshot_id));
      token = r.next_token;
    } while (token !== '' && seen.length < 100);
    assert.equal(new Set(seen).size, seen.length);
    assert.equal(seen.length, (await kit.client.call('Controller', 'ListSnapshots', {})).entries.length);
    assert.equal((await kit.client.callError('Controller', 'ListSnapshots', { starting_token: '%%%' })).code, status.ABORTED);
  });

  it('DeleteSnapshot deletes, is idempotent and needs an id', async () => {
    const s = await kit.client.call('Controller', 'CreateSnapshot', { name: 'snap-del', source_volume_id: source });
    await kit.client.call('Controller', 'DeleteSnapshot', { snapshot_id: s.snapshot.snapshot_id });
    await kit.client.call('Controller', 'DeleteSnapshot', { snapshot_id: s.snapshot.snapshot_id });
    assert.equal((await kit.client.call('Controller', 'ListSnapshots', { snapshot_id: s.snapshot.snapshot_id })).entries.length, 0);
    assert.equal((await kit.client.callError('Controller', 'DeleteSnapshot', {})).code, status.INVALID_ARGUMENT);
  });
});
