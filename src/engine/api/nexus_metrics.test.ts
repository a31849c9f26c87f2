import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nexusMetricFamilies } from './nexus_metrics.ts';
import { ScrapeRegistry } from '../../util/prom_registry.ts';
import type { NexusView } from '../nexus_view.ts';

const view = (name: string, state: string): NexusView => ({
  name, uuid: '00000000-0000-4000-8000-000000000000', generation: 2, state, sizeBytes: 1, blockSize: 512, thin: true,
  rebuildThrottleBytesPerSec: 0, replicas: [],
} as unknown as NexusView);

const render = (views: NexusView[]): Promise<string> => new ScrapeRegistry(() => nexusMetricFamilies(views), { defaultMetrics: false }).render();

test('a fenced nexus is reported fenced in /metrics, not faulted', async () => {
  const text = await render([view('a', 'fenced'), view('b', 'no-quorum')]);
  assert.match(text, /berth_nexus_state\{nexus="a",state="fenced"\} 1/);
  assert.match(text, /berth_nexus_state\{nexus="a",state="faulted"\} 0/);
  assert.match(text, /berth_nexus_state\{nexus="b",state="no-quorum"\} 1/);
  assert.match(text, /berth_nexus_generation\{nexus="a"\} 2/);
});

test('a rebuilding child reports its state, missing bytes and rebuild progress', async () => {
  const v = view('n', 'degraded');
  (v as { replicas: unknown[] }).replicas = [
    { name: 'b/p/r', state: 'rebuilding', missingBytes: 4096, rebuild: { bytesDone: 1024, bytesTotal: 8192, rate: 512 },
      io: { ops: Float64Array.from([0, 3, 0, 1]), bytes: Float64Array.from([0, 12288, 0, 0]) } },
    { name: 'a/p/r', state: 'online', missingBytes: 0, rebuild: null },
  ];
  const text = await render([v]);
  assert.match(text, /berth_nexus_child_state\{nexus="n",replica="b\/p\/r",state="rebuilding"\} 1/);
  assert.match(text, /berth_nexus_child_state\{nexus="n",replica="a\/p\/r",state="online"\} 1/);
  assert.match(text, /berth_nexus_child_missing_bytes\{nexus="n",replica="b\/p\/r"\} 4096/);
  assert.match(text, /berth_nexus_rebuild_done_bytes\{nexus="n",replica="b\/p\/r"\} 1024/);
  assert.match(text, /berth_nexus_rebuild_total_bytes\{nexus="n",replica="b\/p\/r"\} 8192/);
  assert.doesNotMatch(text, /berth_nexus_rebuild_total_bytes\{nexus="n",replica="a/);
  assert.match(text, /berth_nexus_child_io_ops_total\{nexus="n",replica="b\/p\/r",op="write"\} 3/);
  assert.match(text, /berth_nexus_child_io_bytes_total\{nexus="n",replica="b\/p\/r",op="write"\} 12288/);
  assert.match(text, /berth_nexus_child_io_ops_total\{nexus="n",replica="b\/p\/r",op="flush"\} 1/);
});
