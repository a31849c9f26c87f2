import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PVC_NAME_KEY, PVC_NAMESPACE_KEY, VOLUME_ROW_LIMIT, capacityByZone, filterVolumes, formatBytes, formatPercent, volumeChain,
  type VolumeInfo,
} from './view_model.ts';

const fleet = (n: number): VolumeInfo[] => Array.from({ length: n }, (_, i) => ({
  id: `id-${i}`, name: `pvc-${String(i).padStart(5, '0')}`, status: i % 10 === 0 ? 'degraded' : 'online',
}));

test('filterVolumes over 10,000 volumes: counts every match, returns at most the row limit, in input order', () => {
  const all = fleet(10_000);
  const none = filterVolumes(all, { text: '', status: '' });
  assert.equal(none.total, 10_000);
  assert.equal(none.matched, 10_000);
  assert.equal(none.rows.length, VOLUME_ROW_LIMIT);
  assert.equal(none.rows[0].name, 'pvc-00000');

  const degraded = filterVolumes(all, { text: '', status: 'degraded' });
  assert.equal(degraded.matched, 1_000);
  assert.ok(degraded.rows.every((v) => v.status === 'degraded'));

  // Case-insensitive, trimmed, on the name or the id.
  const one = filterVolumes(all, { text: '  PVC-09999 ', status: '' });
  assert.deepEqual(one.rows.map((v) => v.id), ['id-9999']);
  assert.equal(filterVolumes(all, { text: 'id-9999', status: '' }).matched, 1);
  assert.equal(filterVolumes(all, { text: 'pvc-0999', status: 'degraded' }).matched, 1, 'pvc-09990 only');
  assert.equal(filterVolumes(all, { text: 'nothing', status: '' }).rows.length, 0);
});

test('capacityByZone sums pools under their node\'s zone; unknown nodes are kept apart', () => {
  const zones = capacityByZone(
    [{ id: 'a', zone: 'z2' }, { id: 'b', zone: 'z1' }, { id: 'c', zone: 'z1' }],
    [
      { id: 'a:p', nodeId: 'a', name: 'p', capacityBytes: 100, usedBytes: 10, committedBytes: 50 },
      { id: 'b:p', nodeId: 'b', name: 'p', capacityBytes: 200, usedBytes: 20, committedBytes: 60 },
      { id: 'c:p', nodeId: 'c', name: 'p', capacityBytes: 300, usedBytes: 30 },
      { id: 'x:p', nodeId: 'x', name: 'p', capacityBytes: 7 },
    ],
  );
  assert.deepEqual(zones, [
    { zone: '(unknown)', nodes: 0, pools: 1, capacityBytes: 7, usedBytes: 0, committedBytes: 0 },
    { zone: 'z1', nodes: 2, pools: 2, capacityBytes: 500, usedBytes: 50, committedBytes: 60 },
    { zone: 'z2', nodes: 1, pools: 1, capacityBytes: 100, usedBytes: 10, committedBytes: 50 },
  ]);
});

test('volumeChain joins nexus, replicas, pools, nodes, snapshots and the PVC kept in the attributes', () => {
  const volume: VolumeInfo = {
    id: 'v1', name: 'pvc-1234', status: 'degraded',
    attributes: { [PVC_NAME_KEY]: 'data', [PVC_NAMESPACE_KEY]: 'shop' },
    replicaStates: [
      { id: 'r1', poolId: 'n1:p', nodeId: 'n1', status: 'online' },
      { id: 'r2', poolId: 'n2:p', nodeId: 'n2', status: 'rebuilding', rebuildProgress: 0.5 },
      { id: 'r3', poolId: 'gone:p', nodeId: 'gone', status: 'missing' },
    ],
    pods: [{ podName: 'web-0', podNamespace: 'shop', nodeId: 'n1' }],
  };
  const chain = volumeChain(
    volume,
    [{ id: 'x0', volumeId: 'other', nodeId: 'n2' }, { id: 'x1', volumeId: 'v1', nodeId: 'n1', children: ['r1', 'r2'], generation: 3 }],
    [{ id: 'n1:p', nodeId: 'n1', name: 'p' }, { id: 'n2:p', nodeId: 'n2', name: 'p' }],
    [{ id: 'n1', zone: 'z1' }, { id: 'n2', zone: 'z2' }],
    [{ id: 's1', name: 'snap', volumeId: 'v1' }, { id: 's2', name: 'other', volumeId: 'v2' }],
  );
  assert.deepEqual(chain.pvc, { name: 'data', namespace: 'shop' });
  assert.equal(chain.pvName, 'pvc-1234');
  assert.equal(chain.nexus?.id, 'x1');
  assert.equal(chain.nexus?.generation, 3);
  assert.equal(chain.nexus?.node?.zone, 'z1');
  assert.deepEqual(chain.replicas.map((r) => [r.replica.id, r.pool?.id, r.node?.zone, r.inNexus]), [
    ['r1', 'n1:p', 'z1', true], ['r2', 'n2:p', 'z2', true], ['r3', undefined, undefined, false],
  ]);
  assert.deepEqual(chain.snapshots.map((s) => s.id), ['s1']);
  assert.equal(chain.pods[0].podName, 'web-0');

  const bare = volumeChain({ id: 'v9', name: 'plain' }, [], [], [], []);
  assert.equal(bare.pvc, undefined, 'no PVC invented when the attributes do not carry one');
  assert.equal(bare.nexus, undefined);
  assert.deepEqual(bare.replicas, []);
});

test('formatBytes and formatPercent', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(64 * 2 ** 20), '64 MiB');
  assert.equal(formatBytes(undefined), '—');
  assert.equal(formatPercent(0.456), '46%');
  assert.equal(formatPercent(undefined), '—');
});
