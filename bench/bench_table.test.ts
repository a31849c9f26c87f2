import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metric, SINGLE_VOLUME_ROWS, type RowSpec } from './bench_rows.ts';
import { minRatio, minRatioLine, sectionTable, type Measurement, type Section } from './bench_table.ts';
import { fioArgs, fioFilename, parseFioJson } from './fio.ts';

const cmp = { subject: 'berth', baseline: 'tgt' };
const row = (metric: Metric): RowSpec => ({ ...SINGLE_VOLUME_ROWS[0], metric });
const m = (iops: number, mib: number): Measurement => ({
  fio: { iops, mibPerSec: mib, p50us: 100, p99us: 900, bytes: 2 ** 30, runtimeMs: 1000 },
  cpuSeconds: 1,
  cpuSecondsPerGiB: 1,
});

test('ratio is taken on each row\'s metric; a failed Berth row counts as 0', () => {
  const s: Section = {
    title: 'x',
    rows: [
      { row: row(Metric.iops), cells: { berth: m(50, 999), tgt: m(100, 1) } },
      { row: row(Metric.bandwidth), cells: { berth: m(1, 300), tgt: m(999, 400) } },
    ],
  };
  assert.equal(minRatio([s], cmp), 0.5);
  s.rows.push({ row: row(Metric.iops), cells: { berth: { error: 'boom' }, tgt: m(1, 1) } });
  assert.equal(minRatioLine([s], cmp), 'min Berth/tgt ratio: 0.00');
  assert.match(sectionTable(s, ['berth', 'tgt'], cmp), /\| 0\.50 \(IOPS\) \|/);
});

test('without Berth figures the summary says n/a and the table has only tgt columns', () => {
  const s: Section = { title: 'x', rows: [{ row: row(Metric.iops), cells: { tgt: m(100, 1) } }] };
  assert.equal(minRatioLine([s], cmp), 'min Berth/tgt ratio: n/a');
  assert.doesNotMatch(sectionTable(s, ['tgt'], cmp), /Berth/);
});

test('fio filename escapes every colon of the URL and the IQN', () => {
  assert.equal(fioFilename('iscsi://127.0.0.1:3260/iqn.2026-11.io.berth:p.v/0'), 'iscsi\\://127.0.0.1\\:3260/iqn.2026-11.io.berth\\:p.v/0');
  assert.ok(fioArgs({ fio: 'fio', url: 'iscsi://h:1/i/0', row: SINGLE_VOLUME_ROWS[2], runtimeS: 5, rampS: 1 }).includes('--numjobs=4'));
});

test('fio JSON: notes before the document are skipped, percentiles become µs', () => {
  const dir = (iops: number) => ({ iops, bw_bytes: iops * 4096, io_bytes: 1, runtime: 5000, clat_ns: { percentile: { '50.000000': 2000, '99.000000': 9000 } } });
  const out = 'note: something\n' + JSON.stringify({ jobs: [{ error: 0, read: dir(10), write: dir(0) }] });
  const r = parseFioJson(out, 'randread');
  assert.equal(r.iops, 10);
  assert.equal(r.p50us, 2);
  assert.equal(r.p99us, 9);
  assert.throws(() => parseFioJson(JSON.stringify({ jobs: [{ error: 5, read: dir(1), write: dir(1) }] }), 'read'), /error 5/);
});
