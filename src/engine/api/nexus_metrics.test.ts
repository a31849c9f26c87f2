import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nexusMetricFamilies } from './nexus_metrics.ts';
import { renderPrometheus } from './prometheus_text.ts';
import type { NexusView } from '../nexus_view.ts';

const view = (name: string, state: string): NexusView => ({
  name, uuid: '00000000-0000-4000-8000-000000000000', generation: 2, state, sizeBytes: 1, blockSize: 512, thin: true,
  rebuildThrottleBytesPerSec: 0, replicas: [],
} as unknown as NexusView);

test('a fenced nexus is reported fenced in /metrics, not faulted', () => {
  const text = renderPrometheus(nexusMetricFamilies([view('a', 'fenced'), view('b', 'no-quorum')]));
  assert.match(text, /berth_nexus_state\{nexus="a",state="fenced"\} 1/);
  assert.match(text, /berth_nexus_state\{nexus="a",state="faulted"\} 0/);
  assert.match(text, /berth_nexus_state\{nexus="b",state="no-quorum"\} 1/);
  assert.match(text, /berth_nexus_generation\{nexus="a"\} 2/);
});
