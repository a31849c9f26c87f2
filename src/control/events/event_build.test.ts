import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffObservations, type Observation, type ObservedReplica, type ObservedVolume } from './event_build.ts';
import { refusalEvents, type RefusalRecord } from './event_refusal.ts';

const replica = (id: string, o: Partial<ObservedReplica> = {}): ObservedReplica => ({ id, nodeId: `n-${id}`, poolId: `n-${id}:p`, status: 'online', awaitingRebuild: false, ...o });
const volume = (o: Partial<ObservedVolume> = {}): ObservedVolume => ({
  id: 'v1', name: 'pvc-a', status: 'online', lifecycle: 'created', wanted: 2, replicas: [replica('r1'), replica('r2')], ...o,
});
const obs = (o: Partial<Observation> = {}): Observation => ({ nodes: [], pools: [], volumes: [], snapshots: [], ...o });
const types = (prev: Observation | undefined, next: Observation): string[] => diffObservations(prev, next, 5).map((e) => e.type);

test('the first observation is a baseline: no events', () => {
  assert.deepEqual(diffObservations(undefined, obs({ volumes: [volume()] }), 1), []);
});

test('node transitions: registered, offline, lost, back', () => {
  const n = (status: string, lost = false) => obs({ nodes: [{ id: 'n1', status, lost }] });
  assert.deepEqual(types(obs(), n('online')), ['NodeOnline']);
  const off = diffObservations(n('online'), n('offline'), 7);
  assert.equal(off.length, 1);
  assert.deepEqual({ ...off[0] }, {
    atMs: 7, type: 'NodeOffline', severity: 'warning', object: { kind: 'node', id: 'n1' }, reason: 'HeartbeatMissed',
    message: 'node n1 is offline: no heartbeat within the deadline; placement no longer uses it', involved: { nodeId: 'n1' },
  });
  assert.deepEqual(types(n('offline'), n('offline', true)), ['NodeLost']);
  const back = diffObservations(n('offline', true), n('online'), 9);
  assert.deepEqual(back.map((e) => [e.type, e.reason]), [['NodeBack', 'HeartbeatReceived']]);
  assert.match(back[0].message, /after it was declared lost/);
  assert.deepEqual(types(n('unknown'), n('online')), ['NodeOnline'], 'a restored node checking in');
  assert.deepEqual(types(n('unknown'), n('offline')), ['NodeOffline']);
  assert.deepEqual(types(n('online'), n('online')), []);
});

test('pool health changes are events; a new pool is not', () => {
  const p = (health: string) => obs({ pools: [{ id: 'n1:p', nodeId: 'n1', health }] });
  assert.deepEqual(types(obs(), p('online')), []);
  const e = diffObservations(p('online'), p('faulted'), 1);
  assert.deepEqual(e.map((x) => [x.type, x.severity, x.involved]), [['PoolFaulted', 'warning', { poolId: 'n1:p', nodeId: 'n1' }]]);
  assert.deepEqual(types(p('faulted'), p('online')), ['PoolOnline']);
});

test('volume created, degraded with the reason, online again, deleted', () => {
  assert.deepEqual(types(obs(), obs({ volumes: [volume()] })), ['VolumeCreated']);
  assert.deepEqual(types(obs({ volumes: [volume({ lifecycle: 'creating', status: 'pending' })] }), obs({ volumes: [volume()] })), ['VolumeCreated']);
  const degraded = volume({ status: 'degraded', replicas: [replica('r1'), replica('r2', { status: 'missing' })] });
  const e = diffObservations(obs({ volumes: [volume()] }), obs({ volumes: [degraded] }), 1);
  assert.deepEqual(e.map((x) => x.type), ['VolumeDegraded']);
  assert.equal(e[0].message, 'volume pvc-a is degraded: 1 of 2 replicas online; r2 missing');
  assert.deepEqual(e[0].object, { kind: 'volume', id: 'v1', name: 'pvc-a' });
  assert.deepEqual(types(obs({ volumes: [degraded] }), obs({ volumes: [volume()] })), ['VolumeOnline']);
  assert.deepEqual(types(obs({ volumes: [volume()] }), obs()), ['VolumeDeleted']);
});

test('a lost replica: faulted, retired, its replacement rebuilt', () => {
  const v0 = volume();
  const faulted = volume({ status: 'degraded', replicas: [replica('r1'), replica('r2', { status: 'faulted', faultedReason: 'node n-r2 lost' })] });
  const e1 = diffObservations(obs({ volumes: [v0] }), obs({ volumes: [faulted] }), 1);
  assert.deepEqual(e1.map((x) => x.type), ['ReplicaFaulted', 'VolumeDegraded']);
  assert.match(e1[0].message, /faulted: node n-r2 lost/);
  assert.deepEqual(e1[0].involved, { volumeId: 'v1', replicaId: 'r2', nodeId: 'n-r2', poolId: 'n-r2:p' });
  const replaced = volume({ status: 'degraded', replicas: [replica('r1'), replica('r3', { status: 'rebuilding', awaitingRebuild: true })] });
  const e2 = diffObservations(obs({ volumes: [faulted] }), obs({ volumes: [replaced] }), 2);
  assert.deepEqual(e2.map((x) => [x.type, x.reason]), [['RebuildStarted', 'ReplacementCreated'], ['ReplicaRetired', 'Faulted']]);
  assert.match(e2[1].message, /replica r2 of volume pvc-a on n-r2\/n-r2:p retired: node n-r2 lost/);
  const e3 = diffObservations(obs({ volumes: [replaced] }), obs({ volumes: [volume({ replicas: [replica('r1'), replica('r3')] })] }), 3);
  assert.deepEqual(e3.map((x) => x.type), ['RebuildFinished', 'VolumeOnline']);
});

test('a rebuild that fails: the target faults, or is removed before it is in sync', () => {
  const rebuilding = volume({ status: 'degraded', replicas: [replica('r1'), replica('r3', { status: 'rebuilding', awaitingRebuild: true })] });
  const faulted = volume({ status: 'degraded', replicas: [replica('r1'), replica('r3', { status: 'faulted', awaitingRebuild: true, faultedReason: 'pool faulted' })] });
  assert.deepEqual(types(obs({ volumes: [rebuilding] }), obs({ volumes: [faulted] })), ['ReplicaFaulted', 'RebuildFailed']);
  const gone = volume({ status: 'degraded', replicas: [replica('r1')] });
  assert.deepEqual(types(obs({ volumes: [rebuilding] }), obs({ volumes: [gone] })), ['RebuildFailed', 'ReplicaRetired']);
});

test('snapshots taken and deleted name their volume', () => {
  const s = { id: 's1', name: 'nightly', volumeId: 'v1', sizeBytes: 8 };
  const e = diffObservations(obs({ volumes: [volume()] }), obs({ volumes: [volume()], snapshots: [s] }), 1);
  assert.deepEqual(e.map((x) => [x.type, x.message, x.involved]), [['SnapshotTaken', 'snapshot nightly of volume pvc-a taken (8 bytes)', { snapshotId: 's1', volumeId: 'v1' }]]);
  assert.deepEqual(types(obs({ snapshots: [s] }), obs()), ['SnapshotDeleted']);
});

test('placement refusals: the filter that ruled out most pools is the reason; repeats within the window are dropped', () => {
  const r = (atMs: number, message = 'no pool passed: capacity ruled out 3'): RefusalRecord => ({
    atMs, volumeId: 'v1', volumeName: 'pvc-a', needed: 1, message, ruledOut: { zone: 1, capacity: 3 },
  });
  const seen = new Map<string, number>();
  const e = refusalEvents([r(1000), r(2000)], seen, 60_000);
  assert.deepEqual(e.map((x) => [x.type, x.reason, x.object.id]), [['PlacementRefused', 'FilterRuledOut:capacity', 'v1']]);
  assert.equal(e[0].message, 'placement refused 1 replica for volume pvc-a: no pool passed: capacity ruled out 3');
  assert.equal(refusalEvents([r(30_000)], seen, 60_000).length, 0, 'same refusal within the window');
  assert.equal(refusalEvents([r(30_000, 'another reason')], seen, 60_000).length, 1, 'another reason is logged');
  assert.equal(refusalEvents([r(61_001)], seen, 60_000).length, 1, 'after the window it is logged again');
});
