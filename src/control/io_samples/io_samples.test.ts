import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIoCounters, ZERO_COUNTERS } from './io_counters.ts';
import { ratePoints } from './io_ring.ts';
import { IoSampler } from './io_sampler.ts';
import { MiB, makeKit } from '../reconcile/reconcile_test_kit.ts';

const exposition = (pool: string, volume: string, c: { ro: number; wo: number; rb: number; wb: number; rl: number; wl: number }): string => `
# HELP berth_volume_io_ops_total SCSI commands completed on an exported volume, by op (read, write, unmap, other).
# TYPE berth_volume_io_ops_total counter
berth_volume_io_ops_total{pool="${pool}",volume="${volume}",op="read"} ${c.ro}
berth_volume_io_ops_total{pool="${pool}",volume="${volume}",op="write"} ${c.wo}
berth_volume_io_ops_total{pool="${pool}",volume="${volume}",op="unmap"} 7
berth_volume_io_bytes_total{pool="${pool}",volume="${volume}",op="read"} ${c.rb}
berth_volume_io_bytes_total{pool="${pool}",volume="${volume}",op="write"} ${c.wb}
berth_volume_io_latency_seconds_bucket{pool="${pool}",volume="${volume}",op="read",le="0.00005"} 1
berth_volume_io_latency_seconds_sum{pool="${pool}",volume="${volume}",op="read"} ${c.rl}
berth_volume_io_latency_seconds_count{pool="${pool}",volume="${volume}",op="read"} ${c.ro}
berth_volume_io_latency_seconds_sum{pool="${pool}",volume="${volume}",op="write"} ${c.wl}
berth_pool_online{pool="${pool}"} 1
`;

test('engine counters: read and write ops, bytes and latency sums per export; other lines ignored', () => {
  const m = parseIoCounters(exposition('p', 'r-1', { ro: 10, wo: 4, rb: 40960, wb: 16384, rl: 0.01, wl: 0.2 })
    + 'berth_volume_io_ops_total{pool="_nexus",volume="v\\"q",op="read"} 3\nnot a metric\n');
  assert.deepEqual(m.get('p/r-1'), { readOps: 10, writeOps: 4, readBytes: 40960, writeBytes: 16384, readLatencySum: 0.01, writeLatencySum: 0.2 });
  assert.deepEqual(m.get('_nexus/v"q'), { ...ZERO_COUNTERS, readOps: 3 });
  assert.equal(m.size, 2);
});

test('rates between samples; mean latency of the commands completed in the interval; a counter reset is skipped', () => {
  const s = (atMs: number, readOps: number, readBytes: number, readLatencySum: number) => ({ atMs, counters: { ...ZERO_COUNTERS, readOps, readBytes, readLatencySum } });
  const points = ratePoints([s(0, 0, 0, 0), s(2000, 2000, 8_192_000, 1), s(4000, 2000, 8_192_000, 1), s(6000, 10, 40_960, 0.001), s(8000, 20, 81_920, 0.002)]);
  assert.deepEqual(points.map((p) => [p.atMs, p.readIops, p.readBytesPerSec, p.readLatencyMs, p.writeLatencyMs]), [
    [2000, 1000, 4_096_000, 0.5, null],
    [4000, 0, 0, null, null],
    [8000, 5, 20_480, 0.1, null],
  ]);
});

test('the sampler: a published volume\'s export is sampled while watched, one /metrics read per engine', async () => {
  const kit = await makeKit(2);
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-io', sizeBytes: 8 * MiB });
    await kit.services.volumes.create({ name: 'pvc-unwatched', sizeBytes: 8 * MiB });
    const fetched: string[] = [];
    let reads = 0;
    const sampler = new IoSampler({
      ctx: kit.services.ctx, intervalMs: 1000, watchMs: 5000,
      fetchMetrics: async (endpoint) => {
        fetched.push(endpoint);
        reads += 1000;
        const r = (await kit.services.replicas.list({ volumeId: volume.id }))[0];
        return exposition('p', r.id, { ro: reads, wo: 0, rb: reads * 4096, wb: 0, rl: reads * 0.0002, wl: 0 });
      },
    });
    const before = await sampler.series(volume.id);
    assert.equal(before.export, null);
    assert.match(before.note ?? '', /not published/);
    const node = (await kit.services.replicas.list({ volumeId: volume.id }))[0].nodeId;
    await kit.services.publish.publish(volume.id, { nodeId: node });
    for (let i = 0; i < 3; i++) {
      await sampler.tick();
      kit.clock.now += 1000;
    }
    const s = await sampler.series(volume.id);
    assert.deepEqual(s.export, { nodeId: node, pool: 'p', volume: (await kit.services.replicas.list({ volumeId: volume.id }))[0].id });
    assert.equal(s.points.length, 2);
    assert.deepEqual(s.points.map((p) => [p.readIops, p.readBytesPerSec, Number(p.readLatencyMs?.toFixed(3))]), [[1000, 4_096_000, 0.2], [1000, 4_096_000, 0.2]]);
    assert.deepEqual(fetched, [node, node, node], 'the unwatched volume costs nothing');
    // Unwatched after watchMs: no more reads.
    kit.clock.now += 10_000;
    await sampler.tick();
    assert.equal(fetched.length, 3);
  } finally {
    await kit.close();
  }
});
