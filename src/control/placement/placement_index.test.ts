import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlacementIndex, placeReplicas } from './placement_index.ts';
import { PlacementError } from './placement_error.ts';
import { formatBytes } from './placement_explain.ts';
import { GiB, node, pool } from './placement_test_fleet.ts';
import { MediaType, PoolHealth, TopologyKey, type Fleet, type PlacementRequest } from './placement_types.ts';

const strictZones = { domain: TopologyKey.Zone, strict: true };
const req = (over: Partial<PlacementRequest> = {}): PlacementRequest =>
  ({ replicas: 3, sizeBytes: 10 * GiB, thin: false, ...over });

/** Three zones, two racks each, one node per rack, one ssd and one hdd pool per node. */
function threeZones(): Fleet {
  const nodes = [];
  const pools = [];
  for (const z of ['z1', 'z2', 'z3']) {
    for (const r of ['r1', 'r2']) {
      const id = `${z}-${r}`;
      nodes.push(node(id, z, r));
      pools.push(pool(`${id}-ssd`, id, { media: MediaType.Ssd }));
      pools.push(pool(`${id}-hdd`, id, { media: MediaType.Hdd, capacityBytes: 1000 * GiB }));
    }
  }
  return { nodes, pools };
}

function zonesOf(fleet: Fleet, poolIds: readonly string[]): string[] {
  return poolIds.map((id) => {
    const p = fleet.pools.find((x) => x.id === id);
    return fleet.nodes.find((n) => n.id === p?.nodeId)?.zone ?? '?';
  });
}

test('places replicas in distinct zones on the least used pools', () => {
  const fleet = threeZones();
  const r = placeReplicas(fleet, req({ media: MediaType.Ssd, spread: strictZones }));
  assert.equal(r.pools.length, 3);
  assert.deepEqual(new Set(zonesOf(fleet, r.pools)).size, 3);
  assert.ok(r.pools.every((id) => id.endsWith('-ssd')));
});

test('strict zone spread refuses rather than co-locate, and says why', () => {
  const fleet = threeZones();
  // z3's ssd pools are full.
  const pools = fleet.pools.map((p) => p.id.startsWith('z3') && p.media === MediaType.Ssd
    ? { ...p, committedBytes: 95 * GiB, usedBytes: 95 * GiB } : p);
  assert.throws(
    () => placeReplicas({ ...fleet, pools }, req({ media: MediaType.Ssd, spread: strictZones })),
    (e: unknown) => {
      assert.ok(e instanceof PlacementError);
      assert.equal(e.code, 'PLACEMENT_FAILED');
      assert.equal(e.message,
        'need 3 replicas in distinct zones; only 2 zones have a pool with 10 GiB free ' +
        '(media_type ruled out 6 pools, min_free_space ruled out 2)');
      assert.deepEqual(e.failure, {
        needed: 3, domain: 'zone', available: 2, pools: 12, ruledOut: { media_type: 6, min_free_space: 2 },
      });
      return true;
    },
  );
});

test('soft spread co-locates in a zone when it must, but on another rack, never the same node', () => {
  const fleet = threeZones();
  const r = placeReplicas(fleet, req({ replicas: 5, media: MediaType.Ssd }));
  const zones = zonesOf(fleet, r.pools);
  assert.deepEqual(new Set(zones.slice(0, 3)).size, 3, 'the first three take one zone each');
  const nodes = r.pools.map((id) => fleet.pools.find((p) => p.id === id)?.nodeId);
  assert.equal(new Set(nodes).size, 5);
  // With two of the six nodes gone, five distinct nodes cannot be found.
  assert.throws(() => placeReplicas({ ...fleet, nodes: fleet.nodes.slice(0, 4) }, req({ replicas: 5, media: MediaType.Ssd })),
    /need 5 replicas in distinct nodes; only 4 nodes have a pool with 10 GiB free \(online_nodes ruled out 4 pools, media_type ruled out 4\)/);
});

test('strict storage-group spread allows two racks of one zone', () => {
  const fleet = threeZones();
  const r = placeReplicas(fleet, req({ replicas: 5, media: MediaType.Hdd, spread: { domain: TopologyKey.StorageGroup, strict: true } }));
  assert.equal(new Set(r.pools).size, 5);
  assert.throws(
    () => placeReplicas(fleet, req({ replicas: 4, media: MediaType.Hdd, storageGroup: 'r1', spread: { domain: TopologyKey.StorageGroup, strict: true } })),
    /need 4 replicas in distinct storage groups; only 3 storage groups have a pool with 10 GiB free \(media_type ruled out 6 pools, storage_group ruled out 3\)/,
  );
});

test('storage_group, tags and media narrow the choice', () => {
  const fleet = threeZones();
  const pools = fleet.pools.map((p) => p.id === 'z2-r2-ssd' ? { ...p, tags: ['gold'] } : p);
  const f = { ...fleet, pools };
  assert.deepEqual(placeReplicas(f, req({ replicas: 1, requiredTags: ['gold'] })).pools, ['z2-r2-ssd']);
  const r = placeReplicas(f, req({ replicas: 2, storageGroup: 'r2', excludedTags: ['gold'], media: MediaType.Ssd }));
  assert.deepEqual([...r.pools].sort(), ['z1-r2-ssd', 'z3-r2-ssd']);
  assert.throws(() => placeReplicas(f, req({ replicas: 3, storageGroup: 'r2', excludedTags: ['gold'], media: MediaType.Ssd })),
    /need 3 replicas in distinct nodes; only 2 nodes have a pool with 10 GiB free \(media_type ruled out 6 pools, storage_group ruled out 3, excluded_tags ruled out 1\)/);
});

test('replacing a replica: existing pools are excluded and count for spread', () => {
  const fleet = threeZones();
  const r = placeReplicas(fleet, req({
    replicas: 1, media: MediaType.Ssd, spread: strictZones,
    existingPools: ['z1-r1-ssd', 'z2-r1-ssd'], avoidPools: ['z3-r1-ssd'],
  }));
  assert.deepEqual(r.pools, ['z3-r2-ssd']);
  assert.throws(() => placeReplicas(fleet, req({
    replicas: 1, media: MediaType.Ssd, spread: strictZones,
    existingPools: ['z1-r1-ssd', 'z2-r1-ssd'], avoidPools: ['z3-r1-ssd', 'z3-r2-ssd'],
  })), /need 1 more replica in distinct zones apart from the 2 existing; only 0 zones have a pool with 10 GiB free \(media_type ruled out 6 pools, exclude_existing ruled out 4\)/);
});

test('reserving space moves the next volume to less used pools', () => {
  const fleet = threeZones();
  const index = new PlacementIndex(fleet);
  const first = index.place(req({ replicas: 1, media: MediaType.Ssd }));
  index.reserve(first.pools, 50 * GiB, false);
  const second = index.place(req({ replicas: 1, media: MediaType.Ssd }));
  assert.notDeepEqual(second.pools, first.pools);
  assert.equal(index.pool(first.pools[0])?.committedBytes, 50 * GiB);
  index.release(first.pools, 50 * GiB, false);
  assert.deepEqual(index.place(req({ replicas: 1, media: MediaType.Ssd })).pools, first.pools);
});

test('offline nodes and unhealthy pools get nothing; bringing a node back restores it', () => {
  const fleet = threeZones();
  const index = new PlacementIndex({
    nodes: fleet.nodes.map((n) => n.zone === 'z3' ? { ...n, online: false } : n),
    pools: fleet.pools.map((p) => p.id === 'z2-r1-ssd' ? { ...p, health: PoolHealth.Degraded } : p),
  });
  assert.throws(() => index.place(req({ media: MediaType.Ssd, spread: strictZones })),
    /only 2 zones have a pool with 10 GiB free \(online_nodes ruled out 4 pools, healthy_pools ruled out 1, media_type ruled out 4\)/);
  index.upsertNode(node('z3-r1', 'z3', 'r1'));
  const r = index.place(req({ media: MediaType.Ssd, spread: strictZones }));
  assert.ok(r.pools.includes('z3-r1-ssd'));
  assert.ok(!r.pools.includes('z2-r1-ssd'));
});

test('thin replicas over-commit up to the ratio; thick ones do not', () => {
  const fleet: Fleet = { nodes: [node('n1', 'z1')], pools: [pool('p1', 'n1', { overcommitRatio: 2 })] };
  const index = new PlacementIndex(fleet);
  const thin = req({ replicas: 1, sizeBytes: 60 * GiB, thin: true });
  for (let i = 0; i < 3; i++) index.reserve(index.place(thin).pools, thin.sizeBytes, true);
  assert.equal(index.pool('p1')?.committedBytes, 180 * GiB);
  assert.throws(() => index.place(thin), /no pool can take a 60 GiB thin replica: all 1 pools ruled out \(min_free_space ruled out 1 pool\)/);
  assert.throws(() => index.place(req({ replicas: 1, sizeBytes: GiB })), /min_free_space ruled out 1 pool/);
});

test('malformed requests are refused before placement', () => {
  const fleet = threeZones();
  for (const bad of [req({ replicas: 0 }), req({ replicas: 6 }), req({ replicas: 2.5 }), req({ sizeBytes: -1 }),
    req({ replicas: 3, existingPools: ['a', 'b', 'c'] }), req({ media: 'tape' as MediaType })]) {
    assert.throws(() => placeReplicas(fleet, bad), (e: unknown) =>
      e instanceof Error && (e as { code?: string }).code === 'PLACEMENT_INVALID_REQUEST');
  }
});

test('formatBytes names sizes the way the messages need', () => {
  assert.equal(formatBytes(10 * GiB), '10 GiB');
  assert.equal(formatBytes(1536 * 1024 * 1024), '1.5 GiB');
  assert.equal(formatBytes(512), '512 B');
});
