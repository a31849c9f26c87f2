import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BENCH_TABLE_HEADER, benchRow, benchTableRows, hostBenchRows, iscsiFioArgs, localFioArgs } from './host_bench.ts';
import type { FioResult } from '../../bench/fio.ts';

const result = (iops: number, mibPerSec: number): FioResult => ({ iops, mibPerSec, p50us: 100, p99us: 900, bytes: 1, runtimeMs: 1000 });

test('the host bench runs 4k random read/write and 1 MiB sequential read/write', () => {
  assert.deepEqual(hostBenchRows().map((r) => [r.rw, r.blockSize]), [['randread', '4k'], ['randwrite', '4k'], ['read', '1m'], ['write', '1m']]);
});

test('the local job is the iSCSI job with libaio, the file, O_DIRECT and the same region', () => {
  const [row] = hostBenchRows();
  const run = { row, runtimeS: 5, rampS: 1, sizeBytes: 1 << 24 };
  const iscsi = iscsiFioArgs('iscsi://127.0.0.1:3260/iqn.2026-01.io.berth:v/0', run);
  assert.ok(iscsi.includes('--ioengine=libiscsi'));
  assert.ok(iscsi.includes('--filename=iscsi\\://127.0.0.1\\:3260/iqn.2026-01.io.berth\\:v/0'));
  assert.ok(iscsi.includes('--size=16777216'));
  const local = localFioArgs('/var/tmp/a.img', run, true);
  assert.ok(local.includes('--ioengine=libaio') && !local.includes('--ioengine=libiscsi'));
  assert.ok(local.includes('--filename=/var/tmp/a.img') && local.includes('--direct=1') && local.includes('--size=16777216'));
  assert.ok(localFioArgs('/dev/shm/a.img', run, false).includes('--direct=0'));
  // Same workload flags on both sides.
  const same = (a: string[]) => a.filter((x) => /^--(rw|bs|iodepth|numjobs|runtime|ramp_time)=/.test(x));
  assert.deepEqual(same(local), same(iscsi));
});

test('ratios: IOPS for 4k rows, MiB/s for 1 MiB rows; none when a side failed', () => {
  const [rr, , seqRead] = hostBenchRows();
  assert.equal(benchRow(rr, result(500, 2), result(1000, 99)).ratio, 0.5);
  assert.equal(benchRow(seqRead, result(1, 300), result(1, 600)).ratio, 0.5);
  const failed = benchRow(rr, { error: 'fio exploded\nmore' }, result(1000, 4));
  assert.equal(failed.ratio, undefined);
  const [cells] = benchTableRows([failed]);
  assert.equal(cells.length, BENCH_TABLE_HEADER.length);
  assert.equal(cells[1], 'failed: fio exploded');
  assert.equal(cells[3], '-');
  assert.deepEqual(benchTableRows([benchRow(seqRead, result(1, 300), result(1, 600))])[0], ['1M seq read QD8', '300.0 MiB/s, p99 900 µs', '600.0 MiB/s, p99 900 µs', '0.50×']);
});
