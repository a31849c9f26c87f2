import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, medianRatio, parsePgbench, pgTable, type PgResults } from './pgbench_table.ts';

const OUT = `pgbench (15.10 (Debian 15.10-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
number of clients: 8
latency average = 3.605 ms
initial connection time = 12.000 ms
tps = 2219.123456 (without initial connection time)
`;

test('parsePgbench reads tps and the average latency', () => {
  assert.deepEqual(parsePgbench(OUT), { tps: 2219.123456, latencyMs: 3.605 });
  assert.throws(() => parsePgbench('pgbench: error: connection refused'), /no tps/);
});

test('the ratio is the median of per-round ratios, not the ratio of medians; failed rounds are left out', () => {
  const run = (tps: number) => ({ tps, latencyMs: 1 });
  // Per-round ratios 0.5, 1.0, 2.0 (median 1.0); medians 20 and 20 would also give 1.0,
  // so make them differ: subject 10, 40, 80 vs base 20, 40, 40 → ratios .5, 1, 2.
  assert.equal(medianRatio([run(10), run(40), run(80)], [run(20), run(40), run(40)]), 1);
  assert.equal(medianRatio([run(10), undefined, run(30)], [run(20), run(40), run(20)]), 1);
  assert.ok(Number.isNaN(medianRatio([undefined], [run(1)])));
  assert.equal(median([3, 1, 2, 4]), 2.5);
});

test('pgTable prints each target, the ratios and the engine CPU per transaction', () => {
  const results: PgResults = {
    Berth: { 'tpcb-8': [{ tps: 900, latencyMs: 8.9, engineCpuUsPerTxn: 50 }, { tps: 1000, latencyMs: 8, engineCpuUsPerTxn: 30 }] },
    raw: { 'tpcb-8': [{ tps: 1000, latencyMs: 8 }, { tps: 1000, latencyMs: 8 }] },
  };
  const t = pgTable(results, ['Berth', 'raw'], [{ subject: 'Berth', base: 'raw' }], 'Berth');
  const row = t.split('\n').find((l) => l.startsWith('| TPC-B-like, 8 clients'));
  assert.equal(row, '| TPC-B-like, 8 clients | 950 (8.45) | 1,000 (8.00) | 0.95 | 40 |');
  assert.ok(!t.includes('select-only'), 'modes no target ran are left out');
});
