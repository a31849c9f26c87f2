import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeRegistry } from './node_registry.ts';
import { parseHeartbeat, type Heartbeat } from './registry_heartbeat.ts';
import { placeReplicas } from '../placement/placement_index.ts';

const timing = { heartbeatDeadlineMs: 15_000, nodeLossGraceMs: 300_000 };

function hb(nodeId: string, zone: string, over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    nodeId, endpoint: `${nodeId}:9500`, zone, storageGroup: 'rack-1', labels: {}, engineVersion: '0.1.0',
    pools: [{
      id: `${nodeId}-p0`, media: 'ssd', tags: [], status: 'online',
      capacityBytes: 100 * 2 ** 30, usedBytes: 0, committedBytes: 0, replicaCount: 0,
    }],
    ...over,
  };
}

test('a node goes offline after the deadline and is lost only after the grace period', () => {
  const r = new NodeRegistry(0, { timing });
  assert.deepEqual(r.heartbeat(hb('n1', 'z1'), 1000), { nodeId: 'n1', from: 'unknown', to: 'online' });
  assert.equal(r.heartbeat(hb('n1', 'z1'), 5000), undefined);
  assert.deepEqual(r.tick(19_999), []);
  assert.deepEqual(r.tick(20_000), [{ nodeId: 'n1', from: 'online', to: 'offline' }]);
  assert.deepEqual(r.tick(30_000), [], 'a transition is reported once');
  assert.deepEqual(r.lost(319_999), []);
  assert.deepEqual(r.lost(320_000), ['n1']);
  // Coming back within or after the grace period makes it online (and not lost) again.
  assert.deepEqual(r.heartbeat(hb('n1', 'z1'), 400_000), { nodeId: 'n1', from: 'offline', to: 'online' });
  assert.deepEqual(r.lost(400_001), []);
  assert.equal(r.state('n1')?.status, 'online');
  assert.equal(r.state('n1')?.lastHeartbeatMs, 400_000);
});

test('after a control-plane restart, known nodes get one deadline to check in', () => {
  const r = new NodeRegistry(1_000_000, { timing });
  r.restore('n1');
  r.restore('n2');
  r.heartbeat(hb('n1', 'z1'), 1_005_000);
  assert.equal(r.state('n2')?.status, 'unknown');
  assert.deepEqual(r.tick(1_014_999), []);
  assert.deepEqual(r.tick(1_015_000), [{ nodeId: 'n2', from: 'unknown', to: 'offline' }]);
  assert.deepEqual(r.lost(1_314_999), []);
  assert.deepEqual(r.lost(1_315_000), ['n2']);
});

test('the fleet view feeds placement: offline and cordoned nodes take no replicas', () => {
  const r = new NodeRegistry(0, { timing, defaultOvercommitRatio: 2 });
  for (const [n, z] of [['n1', 'z1'], ['n2', 'z2'], ['n3', 'z3'], ['n4', 'z3']]) r.heartbeat(hb(n, z), 0);
  r.setOvercommitRatio('n1-p0', 3);
  const fleet = r.fleet();
  assert.equal(fleet.pools.find((p) => p.id === 'n1-p0')?.overcommitRatio, 3);
  assert.equal(fleet.pools.find((p) => p.id === 'n2-p0')?.overcommitRatio, 2);
  const strict = { replicas: 3, sizeBytes: 2 ** 30, thin: false, spread: { domain: 'zone' as const, strict: true } };
  assert.equal(placeReplicas(r.fleet(), strict).pools.length, 3);
  r.cordon('n1', true);
  assert.throws(() => placeReplicas(r.fleet(), strict), /online_nodes ruled out 1 pool/);
  r.cordon('n1', false);
  for (const n of ['n1', 'n2', 'n3']) r.heartbeat(hb(n, n === 'n1' ? 'z1' : n === 'n2' ? 'z2' : 'z3'), 10_000);
  r.tick(20_000); // n4 missed its deadline
  assert.deepEqual([...placeReplicas(r.fleet(), strict).pools].sort(), ['n1-p0', 'n2-p0', 'n3-p0']);
  r.heartbeat(hb('n2', 'z2', { pools: [{ ...hb('n2', 'z2').pools[0], status: 'degraded' }] }), 21_000);
  assert.throws(() => placeReplicas(r.fleet(), strict), /healthy_pools ruled out 1/);
});

test('malformed heartbeats are refused with INVALID_HEARTBEAT', () => {
  const good = hb('n1', 'z1');
  assert.deepEqual(parseHeartbeat(JSON.parse(JSON.stringify(good))), good);
  const bad: unknown[] = [
    null, [], 'x', { ...good, nodeId: '' }, { ...good, nodeId: 'a b' }, { ...good, pools: 'no' },
    { ...good, pools: [{ ...good.pools[0], media: 'tape' }] },
    { ...good, pools: [{ ...good.pools[0], capacityBytes: -1 }] },
    { ...good, pools: [{ ...good.pools[0], usedBytes: 1.5 }] },
    { ...good, pools: [{ ...good.pools[0], status: 'weird' }] },
    { ...good, pools: [good.pools[0], good.pools[0]] },
    { ...good, labels: { a: 1 } },
    { ...good, pools: Array.from({ length: 257 }, (_, i) => ({ ...good.pools[0], id: `p${i}` })) },
  ];
  for (const b of bad) {
    assert.throws(() => parseHeartbeat(b), { code: 'INVALID_HEARTBEAT' }, JSON.stringify(b)?.slice(0, 80));
  }
});
