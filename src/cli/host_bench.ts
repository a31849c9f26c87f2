/**
 * `berth bench` on a host: the same fio workloads against a Berth volume (over iSCSI,
 * fio's libiscsi engine) and a local file on the same machine, side by side. Pure part:
 * which rows, fio's arguments, and the ratio table. The rows and fio's arguments and
 * JSON parsing are the repository bench's own (bench/), so both measure the same way.
 */
import { SINGLE_VOLUME_ROWS, Metric, type RowSpec } from '../../bench/bench_rows.ts';
import { fioArgs, type FioResult } from '../../bench/fio.ts';
import type { PgbenchRow } from './bench_pgbench.ts';

/** 4k random read and write at QD32, 1 MiB sequential read and write at QD8, one job each. */
export const HOST_BENCH_ROW_IDS = ['randread-4k-qd32', 'randwrite-4k-qd32', 'read-1m-qd8', 'write-1m-qd8'] as const;

export function hostBenchRows(): RowSpec[] {
  return HOST_BENCH_ROW_IDS.map((id) => {
    const row = SINGLE_VOLUME_ROWS.find((r) => r.id === id);
    if (!row) throw new Error(`bench row ${id} is missing from bench/bench_rows.ts`);
    return row;
  });
}

export interface BenchRun { row: RowSpec; runtimeS?: number; rampS?: number; sizeBytes: number }

/** fio against the volume's iSCSI URL, confined to the first `sizeBytes` like the local file. */
export function iscsiFioArgs(url: string, r: BenchRun, initiator?: string): string[] {
  return [...fioArgs({ fio: '', url, row: r.row, runtimeS: r.runtimeS, rampS: r.rampS, initiator }), `--size=${r.sizeBytes}`];
}

/**
 * The same job against a local file: libaio instead of libiscsi, O_DIRECT unless the
 * file system refuses it (tmpfs), so the page cache does not flatter the local side.
 */
export function localFioArgs(file: string, r: BenchRun, direct: boolean): string[] {
  const iscsi = fioArgs({ fio: '', url: file, row: r.row, runtimeS: r.runtimeS, rampS: r.rampS });
  return [...iscsi.map((a) => (a === '--ioengine=libiscsi' ? '--ioengine=libaio' : a)), `--size=${r.sizeBytes}`, `--direct=${direct ? 1 : 0}`];
}

export type BenchCell = FioResult | { error: string };

export interface BenchRow {
  id: string;
  label: string;
  metric: Metric;
  berth: BenchCell;
  local: BenchCell;
  /** Berth ÷ local on the row's metric (IOPS for 4k, MiB/s for 1 MiB); absent when a side failed. */
  ratio?: number;
}

const figure = (c: FioResult, m: Metric): number => (m === Metric.iops ? c.iops : c.mibPerSec);

export function benchRow(row: RowSpec, berth: BenchCell, local: BenchCell): BenchRow {
  const out: BenchRow = { id: row.id, label: row.label, metric: row.metric, berth, local };
  if (!('error' in berth) && !('error' in local) && figure(local, row.metric) > 0) {
    out.ratio = figure(berth, row.metric) / figure(local, row.metric);
  }
  return out;
}

function cellText(c: BenchCell, m: Metric): string {
  if ('error' in c) return `failed: ${c.error.split('\n')[0].slice(0, 60)}`;
  const main = m === Metric.iops ? `${Math.round(c.iops)} IOPS` : `${c.mibPerSec.toFixed(1)} MiB/s`;
  return `${main}, p99 ${Math.round(c.p99us)} µs`;
}

/** Header and rows for the side-by-side table (printed with the CLI's table writer). */
export function benchTableRows(rows: readonly BenchRow[]): string[][] {
  return rows.map((r) => [r.label, cellText(r.berth, r.metric), cellText(r.local, r.metric), r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}×`]);
}
/** pgbench rows for the same table: tps on each side, ratio on tps. */
export function pgbenchTableRows(rows: readonly PgbenchRow[]): string[][] {
  const text = (c: PgbenchRow['berth']): string => ('error' in c ? `failed: ${c.error.split('\n')[0].slice(0, 60)}` : `${c.tps.toFixed(0)} tps`);
  return rows.map((r) => [r.label, text(r.berth), text(r.local), r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}×`]);
}
export const BENCH_TABLE_HEADER = ['Workload', 'Berth', 'Local', 'Berth/local'] as const;
