import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countingCostNs, median, metricsOverheadMarkdown, overheadOf } from './metrics_overhead.ts';

test('overhead is the median of per-round paired ratios, so one noisy round does not decide it', () => {
  const f = overheadOf(10, [
    { iopsOn: 9800, iopsOff: 10000, cpuUsOn: 10.2, cpuUsOff: 10 },
    { iopsOn: 20000, iopsOff: 10000, cpuUsOn: 10, cpuUsOff: 10 }, // a burst of load elsewhere hit "off"
    { iopsOn: 4900, iopsOff: 5000, cpuUsOn: 10.2, cpuUsOff: 10 },
  ]);
  assert.ok(Math.abs(f.iopsOverheadPct - 2) < 1e-9, String(f.iopsOverheadPct));
  assert.ok(Math.abs(f.cpuOverheadPct - 2) < 1e-9, String(f.cpuOverheadPct));
  assert.equal(median([3, 1, 2, 10]), 2.5);
  const md = metricsOverheadMarkdown(f);
  assert.match(md, /\| on \| 9800 \| 10\.2 \|/);
  assert.match(md, /\| off \| 10000 \| 10 \|/);
  assert.match(md, /I\/O accounting overhead: 2\.0% of 4k randread IOPS, 2\.0% engine CPU per command \(3 rounds; target < 3%\)/);
  assert.match(md, /Per-round on\/off IOPS ratios ranged 0\.98–2\.00/);
  assert.match(metricsOverheadMarkdown(overheadOf(5, [{ iopsOn: 101, iopsOff: 100, cpuUsOn: 9, cpuUsOff: 10 }])), /overhead: −1\.0% of 4k randread IOPS, −10\.0% engine CPU/);
});

test('the accounting alone: a positive cost per command, put against the engine\'s CPU per command', () => {
  const ns = countingCostNs(200_000);
  assert.ok(ns > 0 && ns < 100_000, String(ns));
  const f = { ...overheadOf(10, [{ iopsOn: 1, iopsOff: 1, cpuUsOn: 8, cpuUsOff: 8 }]), countingNs: 120 };
  assert.match(metricsOverheadMarkdown(f), /tight loop, CPU time\): 120 ns per command, 1\.5% of the 8 µs of engine CPU/);
});
