import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTps, pgbenchRow, PGBENCH_MODES } from './bench_pgbench.ts';
import { pgbenchTableRows } from './host_bench.ts';

// pgbench 15's summary, trimmed.
const OUT = `transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
number of clients: 2
latency average = 3.675 ms
initial connection time = 4.120 ms
tps = 544.247688 (without initial connection time)
`;

test('tps from pgbench\'s summary; none is an error naming what it printed', () => {
  assert.equal(parseTps(OUT), 544.247688);
  assert.throws(() => parseTps('connection refused'), /pgbench printed no tps: connection refused/);
});

test('pgbench rows: tps side by side, ratio on tps, none when a side failed', () => {
  const [tpcb, select] = PGBENCH_MODES;
  assert.deepEqual(select.args, ['-S']);
  const ok = pgbenchRow(tpcb, { tps: 250 }, { tps: 1000 });
  assert.equal(ok.ratio, 0.25);
  const failed = pgbenchRow(select, { error: 'initdb: no space\nmore' }, { tps: 10 });
  assert.equal(failed.ratio, undefined);
  assert.deepEqual(pgbenchTableRows([ok, failed]), [
    ['pgbench TPC-B-like', '250 tps', '1000 tps', '0.25×'],
    ['pgbench select-only', 'failed: initdb: no space', '10 tps', '-'],
  ]);
});
