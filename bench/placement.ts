/**
 * Placement at fleet scale: 10,000 volumes onto 10,000 nodes with 100,000 drives
 * (DriveScale's claimed size). Standalone: `node bench/placement.ts [--volumes N]
 * [--nodes N] [--pools-per-node N] [--json]`. Prints the time to build the index and to
 * place (and reserve) every volume, and the plain O(pools) scan's time for a sample
 * of the same requests for comparison.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { PlacementError, PlacementIndex, placeByScan, MediaType, TopologyKey } from '../src/control/placement/index.ts';
import type { FleetPool, PlacementRequest } from '../src/control/placement/index.ts';
import { seededRandom, simulateFleet } from '../src/control/placement/placement_simulate.ts';

const { values } = parseArgs({
  options: {
    volumes: { type: 'string', default: '10000' },
    nodes: { type: 'string', default: '10000' },
    'pools-per-node': { type: 'string', default: '10' },
    'scan-sample': { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const volumes = Number(values.volumes);
const nodes = Number(values.nodes);
const poolsPerNode = Number(values['pools-per-node']);
const scanSample = Number(values['scan-sample']);
const GiB = 1024 ** 3;

const fleet = simulateFleet({ zones: 10, groupsPerZone: 50, nodes, poolsPerNode, ssdFraction: 0.3, seed: 42 });
const rnd = seededRandom(7);

/** A StorageClass mix: replicated databases on ssd, bulk on hdd, scratch volumes. */
function nextRequest(): PlacementRequest {
  const kind = rnd();
  const sizeBytes = (1 + Math.floor(rnd() * 500)) * GiB;
  if (kind < 0.5) return { replicas: 3, sizeBytes, thin: false, media: MediaType.Ssd, spread: { domain: TopologyKey.Zone, strict: true } };
  if (kind < 0.8) return { replicas: 2, sizeBytes, thin: true, media: MediaType.Hdd };
  if (kind < 0.9) return { replicas: 3, sizeBytes, thin: true, requiredTags: ['encrypted-at-rest'], spread: { domain: TopologyKey.StorageGroup, strict: true } };
  return { replicas: 1, sizeBytes, thin: true, excludedTags: ['encrypted-at-rest'] };
}
const requests = Array.from({ length: volumes }, nextRequest);

const t0 = performance.now();
const index = new PlacementIndex(fleet);
const t1 = performance.now();
const cpu0 = process.cpuUsage();
let placed = 0;
let failed = 0;
let replicas = 0;
const lat: number[] = [];
for (const r of requests) {
  const s = performance.now();
  try {
    const { pools } = index.place(r);
    index.reserve(pools, r.sizeBytes, r.thin);
    placed++;
    replicas += pools.length;
  } catch (e) {
    if (!(e instanceof PlacementError)) throw e;
    failed++;
  }
  lat.push(performance.now() - s);
}
const t2 = performance.now();
const cpu = process.cpuUsage(cpu0);

// The plain scan on a sample, against the final usage, to show what the index saves.
const current = { nodes: fleet.nodes, pools: fleet.pools.map((p) => index.pool(p.id) as FleetPool) };
const sample = requests.slice(0, Math.min(scanSample, requests.length));
const s0 = performance.now();
for (const r of sample) {
  try { placeByScan(current, r); } catch (e) { if (!(e instanceof PlacementError)) throw e; }
}
const scanPerVolumeMs = sample.length > 0 ? (performance.now() - s0) / sample.length : 0;

lat.sort((a, b) => a - b);
const pct = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0;
const result = {
  benchmark: 'placement',
  nodes, pools: fleet.pools.length, volumes, placed, failed, replicas,
  indexBuildMs: round(t1 - t0),
  placeTotalMs: round(t2 - t1),
  /** CPU time of the placement loop: steadier than wall time on a shared machine. */
  placeCpuMs: round((cpu.user + cpu.system) / 1000),
  volumesPerSecond: Math.round(volumes / ((t2 - t1) / 1000)),
  p50Ms: round(pct(0.5)), p99Ms: round(pct(0.99)), maxMs: round(lat[lat.length - 1] ?? 0),
  scanPerVolumeMs: round(scanPerVolumeMs),
  scanProjectedTotalMs: Math.round(scanPerVolumeMs * volumes),
};
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`placement: ${volumes} volumes (${replicas} replicas, ${failed} refused) on ${nodes} nodes / ${fleet.pools.length} pools`);
  console.log(`  index build ${result.indexBuildMs} ms; placement ${result.placeTotalMs} ms ` +
    `(CPU ${result.placeCpuMs} ms; ${result.volumesPerSecond} volumes/s; per volume p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms)`);
  console.log(`  plain scan: ${result.scanPerVolumeMs} ms per volume → ~${result.scanProjectedTotalMs} ms for all ${volumes}`);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
