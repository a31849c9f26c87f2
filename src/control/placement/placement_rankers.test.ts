import { test } from 'node:test';
import assert from 'node:assert/strict';
import { better, leastUsedScore, rankKey, replicaBalanceScore } from './placement_rankers.ts';
import { SpreadPenalty, SpreadTracker, domainsOf, strictDomain } from './placement_spread.ts';
import { GiB, node, pool } from './placement_test_fleet.ts';
import { DEFAULT_RANK_WEIGHTS, TopologyKey } from './placement_types.ts';

test('least_used scores the committed fraction; an empty pool wins', () => {
  assert.equal(leastUsedScore(pool('a', 'n', { committedBytes: 25 * GiB })), 0.25);
  assert.equal(leastUsedScore(pool('a', 'n', { capacityBytes: 0 })), Number.POSITIVE_INFINITY);
  const empty = rankKey(pool('a', 'n'), DEFAULT_RANK_WEIGHTS);
  const half = rankKey(pool('b', 'n', { committedBytes: 50 * GiB }), DEFAULT_RANK_WEIGHTS);
  assert.ok(empty < half);
});

test('replica_balance prefers the pool with fewer replicas at equal usage', () => {
  const w = { leastUsed: 1, replicaBalance: 1, replicaScale: 10 };
  assert.equal(replicaBalanceScore(pool('a', 'n', { replicaCount: 5 }), w), 0.5);
  const few = rankKey(pool('a', 'n', { replicaCount: 1 }), w);
  const many = rankKey(pool('b', 'n', { replicaCount: 9 }), w);
  assert.ok(few < many);
  // With its weight at zero, replica count no longer matters.
  const w0 = { ...w, replicaBalance: 0 };
  assert.equal(rankKey(pool('a', 'n', { replicaCount: 1 }), w0), rankKey(pool('b', 'n', { replicaCount: 9 }), w0));
});

test('better orders by spread penalty, then rank key, then id', () => {
  assert.equal(better(0, 0.9, 'z', 1, 0.1, 'a'), true);
  assert.equal(better(1, 0.1, 'a', 0, 0.9, 'z'), false);
  assert.equal(better(0, 0.1, 'z', 0, 0.2, 'a'), true);
  assert.equal(better(0, 0.1, 'a', 0, 0.1, 'b'), true);
  assert.equal(better(0, 0.1, 'b', 0, 0.1, 'a'), false);
});

test('topology_spread penalises sharing a zone, then a storage group', () => {
  const t = new SpreadTracker({ domain: TopologyKey.Zone, strict: false });
  t.add(domainsOf(node('n1', 'z1', 'r1')));
  assert.equal(t.penalty(domainsOf(node('n2', 'z2', 'r1'))), SpreadPenalty.NewZone);
  assert.equal(t.penalty(domainsOf(node('n2', 'z1', 'r2'))), SpreadPenalty.NewGroup);
  assert.equal(t.penalty(domainsOf(node('n2', 'z1', 'r1'))), SpreadPenalty.NewNode);
});

test('replica_anti_affinity: never the same node; strict forbids the whole domain', () => {
  const soft = new SpreadTracker({ domain: TopologyKey.Zone, strict: false });
  const strictZone = new SpreadTracker({ domain: TopologyKey.Zone, strict: true });
  const strictGroup = new SpreadTracker({ domain: TopologyKey.StorageGroup, strict: true });
  for (const t of [soft, strictZone, strictGroup]) t.add(domainsOf(node('n1', 'z1', 'r1')));
  const sameNode = domainsOf(node('n1', 'z1', 'r1'));
  const sameRack = domainsOf(node('n2', 'z1', 'r1'));
  const sameZone = domainsOf(node('n3', 'z1', 'r2'));
  // A rack name repeated in another zone is another rack.
  const otherZoneSameRackName = domainsOf(node('n4', 'z2', 'r1'));
  assert.deepEqual([sameNode, sameRack, sameZone, otherZoneSameRackName].map((d) => soft.forbids(d)), [true, false, false, false]);
  assert.deepEqual([sameNode, sameRack, sameZone, otherZoneSameRackName].map((d) => strictZone.forbids(d)), [true, true, true, false]);
  assert.deepEqual([sameNode, sameRack, sameZone, otherZoneSameRackName].map((d) => strictGroup.forbids(d)), [true, true, false, false]);
  assert.equal(strictDomain(sameRack, { domain: TopologyKey.StorageGroup, strict: true }), sameRack.group);
  assert.equal(strictDomain(sameRack, { domain: TopologyKey.Zone, strict: false }), sameRack.node);
});
