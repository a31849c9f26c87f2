import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PlacementIndex } from './placement_index.ts';
import { placeByScan } from './placement_scan.ts';
import { PlacementError } from './placement_error.ts';
import { GiB } from './placement_test_fleet.ts';
import { seededRandom, simulateFleet } from './placement_simulate.ts';
import {
  MediaType, PoolHealth, TopologyKey,
  type Fleet, type FleetNode, type FleetPool, type PlacementRequest,
} from './placement_types.ts';

const arbNode = fc.record({
  zone: fc.integer({ min: 0, max: 3 }),
  group: fc.integer({ min: 0, max: 2 }),
  online: fc.integer({ min: 0, max: 4 }).map((x) => x > 0),
  pools: fc.array(fc.record({
    ssd: fc.boolean(),
    capacityGiB: fc.integer({ min: 10, max: 200 }),
    fill: fc.double({ min: 0, max: 1, noNaN: true }),
    ratio: fc.constantFrom(1, 1.5, 2, 3),
    healthy: fc.integer({ min: 0, max: 4 }).map((x) => x > 0),
    tag: fc.constantFrom<string | undefined>(undefined, 'gold', 'silver'),
  }), { minLength: 1, maxLength: 3 }),
});

const arbRequest = fc.record({
  replicas: fc.integer({ min: 1, max: 5 }),
  sizeGiB: fc.integer({ min: 1, max: 80 }),
  thin: fc.boolean(),
  media: fc.constantFrom<MediaType | undefined>(undefined, MediaType.Hdd, MediaType.Ssd),
  strict: fc.boolean(),
  domain: fc.constantFrom<TopologyKey>(TopologyKey.Zone, TopologyKey.StorageGroup, TopologyKey.Node),
  requiredTag: fc.constantFrom<string | undefined>(undefined, 'gold'),
  excludedTag: fc.constantFrom<string | undefined>(undefined, 'silver'),
});

type NodeSpec = typeof arbNode extends fc.Arbitrary<infer T> ? T : never;
type RequestSpec = typeof arbRequest extends fc.Arbitrary<infer T> ? T : never;

function buildFleet(spec: NodeSpec[]): Fleet {
  const nodes: FleetNode[] = [];
  const pools: FleetPool[] = [];
  spec.forEach((n, i) => {
    const id = `n${i}`;
    nodes.push({ id, zone: `z${n.zone}`, storageGroup: `g${n.group}`, online: n.online });
    n.pools.forEach((p, j) => {
      const capacityBytes = p.capacityGiB * GiB;
      const committedBytes = Math.floor(p.fill * capacityBytes * p.ratio);
      pools.push({
        id: `${id}p${j}`, nodeId: id, media: p.ssd ? MediaType.Ssd : MediaType.Hdd,
        tags: p.tag === undefined ? [] : [p.tag], health: p.healthy ? PoolHealth.Online : PoolHealth.Degraded,
        capacityBytes, committedBytes, usedBytes: Math.min(capacityBytes, committedBytes), replicaCount: j,
        overcommitRatio: p.ratio,
      });
    });
  });
  return { nodes, pools };
}

function toRequest(r: RequestSpec): PlacementRequest {
  return {
    replicas: r.replicas, sizeBytes: r.sizeGiB * GiB, thin: r.thin, media: r.media,
    spread: { domain: r.domain, strict: r.strict },
    requiredTags: r.requiredTag === undefined ? undefined : [r.requiredTag],
    excludedTags: r.excludedTag === undefined ? undefined : [r.excludedTag],
  };
}

function outcome(place: () => { pools: readonly string[] }): string[] | string {
  try {
    return [...place().pools];
  } catch (e) {
    if (e instanceof PlacementError) return e.message;
    throw e;
  }
}

test('index matches the plain scan; strict spread never co-locates; capacity stays within the ratio', () => {
  fc.assert(fc.property(
    fc.array(arbNode, { minLength: 1, maxLength: 14 }),
    fc.array(arbRequest, { minLength: 1, maxLength: 12 }),
    (nodeSpecs, requests) => {
      const fleet = buildFleet(nodeSpecs);
      const index = new PlacementIndex(fleet);
      const nodeOf = new Map(fleet.pools.map((p) => [p.id, fleet.nodes.find((n) => n.id === p.nodeId) as FleetNode]));
      for (const r of requests) {
        const request = toRequest(r);
        // The scan sees the same usage as the index, reservations included.
        const current: Fleet = { nodes: fleet.nodes, pools: fleet.pools.map((p) => index.pool(p.id) as FleetPool) };
        const got = outcome(() => index.place(request));
        assert.deepEqual(got, outcome(() => placeByScan(current, request)));
        if (typeof got === 'string') continue;
        const nodes = got.map((id) => nodeOf.get(id) as FleetNode);
        assert.equal(new Set(nodes.map((n) => n.id)).size, got.length, 'two replicas on one node');
        if (r.strict && r.domain === TopologyKey.Zone) {
          assert.equal(new Set(nodes.map((n) => n.zone)).size, got.length, 'strict zones co-located');
        }
        if (r.strict && r.domain === TopologyKey.StorageGroup) {
          assert.equal(new Set(nodes.map((n) => `${n.zone}/${n.storageGroup}`)).size, got.length, 'strict groups co-located');
        }
        index.reserve(got, request.sizeBytes, request.thin);
        for (const id of got) {
          const p = index.pool(id) as FleetPool;
          const limit = request.thin ? p.capacityBytes * p.overcommitRatio : p.capacityBytes;
          assert.ok(p.committedBytes <= limit, `pool ${id} over-committed: ${p.committedBytes} > ${limit}`);
        }
      }
      for (const p of fleet.pools) {
        const now = index.pool(p.id) as FleetPool;
        assert.ok(now.committedBytes <= now.capacityBytes * now.overcommitRatio);
      }
    },
  ), { numRuns: 150, seed: 0x5eed });
});

test('index matches the plain scan on a simulated fleet through placements and node churn', () => {
  const fleet = simulateFleet({ zones: 4, groupsPerZone: 5, nodes: 120, poolsPerNode: 3, ssdFraction: 0.4, seed: 9 });
  const index = new PlacementIndex(fleet);
  const nodes = new Map(fleet.nodes.map((n) => [n.id, n]));
  const rnd = seededRandom(11);
  let placed = 0;
  for (let i = 0; i < 400; i++) {
    if (i % 25 === 0) {
      // A node drops out or comes back.
      const n = fleet.nodes[Math.floor(rnd() * fleet.nodes.length)];
      const flipped = { ...(nodes.get(n.id) as FleetNode), online: !nodes.get(n.id)?.online };
      nodes.set(n.id, flipped);
      index.upsertNode(flipped);
    }
    const request: PlacementRequest = {
      replicas: 1 + Math.floor(rnd() * 5),
      sizeBytes: (1 + Math.floor(rnd() * 3000)) * GiB,
      thin: rnd() < 0.5,
      media: rnd() < 0.5 ? MediaType.Ssd : undefined,
      spread: { domain: [TopologyKey.Zone, TopologyKey.StorageGroup, TopologyKey.Node][Math.floor(rnd() * 3)], strict: rnd() < 0.5 },
    };
    const current: Fleet = { nodes: [...nodes.values()], pools: fleet.pools.map((p) => index.pool(p.id) as FleetPool) };
    const got = outcome(() => index.place(request));
    assert.deepEqual(got, outcome(() => placeByScan(current, request)), `request ${i}`);
    if (typeof got !== 'string') { index.reserve(got, request.sizeBytes, request.thin); placed++; }
  }
  assert.ok(placed > 100, `only ${placed} placed: the test would prove little`);
});
