/**
 * Runs fio's libiscsi engine for one row and reads its JSON output. fio (built by
 * scripts/build-fio.sh) opens its own iSCSI sessions; no kernel initiator is involved.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RowSpec } from './bench_rows.ts';

// Not test/helpers: the CLI (`berth bench`) imports this file, and the image has no test/.
const execFileP = promisify(execFile);

export interface FioResult {
  iops: number;
  mibPerSec: number;
  /** Completion latency percentiles, microseconds. */
  p50us: number;
  p99us: number;
  /** Bytes moved after the ramp. */
  bytes: number;
  runtimeMs: number;
}

export interface FioRun {
  fio: string;
  url: string;
  row: RowSpec;
  /** Omit for a size-based run (fio stops after one pass over the LUN). */
  runtimeS?: number;
  rampS?: number;
  initiator?: string;
}

/** fio splits --filename on ':'; libiscsi URLs and IQNs are full of them. */
export function fioFilename(url: string): string {
  return url.replace(/:/g, '\\:');
}

export function fioArgs(r: FioRun): string[] {
  const args = [
    `--name=${r.row.id}`,
    '--ioengine=libiscsi',
    `--filename=${fioFilename(r.url)}`,
    `--rw=${r.row.rw}`,
    `--bs=${r.row.blockSize}`,
    `--iodepth=${r.row.iodepth}`,
    `--numjobs=${r.row.numjobs}`,
    '--group_reporting',
    '--randrepeat=0',
    '--norandommap',
    '--output-format=json',
    '--percentile_list=50:99',
  ];
  if (r.runtimeS !== undefined) {
    args.push('--time_based', `--runtime=${r.runtimeS}`);
    if (r.rampS) args.push(`--ramp_time=${r.rampS}`);
  }
  if (r.initiator) args.push(`--initiator=${r.initiator}`);
  return args;
}

export async function runFio(r: FioRun): Promise<FioResult> {
  // A size-based pass (pre-fill) on a slow disk can take minutes; a timed run cannot.
  const budgetMs = r.runtimeS === undefined ? 30 * 60_000 : (r.runtimeS + (r.rampS ?? 0) + 60) * 1000;
  const out = await execFileP(r.fio, fioArgs(r), { timeout: budgetMs, killSignal: 'SIGKILL', maxBuffer: 64 * 2 ** 20 });
  return parseFioJson(out.stdout, r.row.rw);
}

interface FioDir {
  iops: number;
  bw_bytes: number;
  io_bytes: number;
  runtime: number;
  clat_ns?: { percentile?: Record<string, number> };
}

/** Pulls one direction's figures out of fio's JSON (fio may print notes before it). */
export function parseFioJson(stdout: string, rw: RowSpec['rw']): FioResult {
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`fio printed no JSON: ${stdout.slice(0, 500)}`);
  const doc = JSON.parse(stdout.slice(start)) as { jobs?: Array<{ error?: number; read: FioDir; write: FioDir }> };
  const job = doc.jobs?.[0];
  if (!job) throw new Error('fio JSON has no jobs');
  if (job.error) throw new Error(`fio job failed with error ${job.error}`);
  const dirs = rw === 'randrw' ? [job.read, job.write] : [rw.includes('read') ? job.read : job.write];
  const sum = (f: (d: FioDir) => number): number => dirs.reduce((a, d) => a + f(d), 0);
  const pct = (d: FioDir, p: string): number => (d.clat_ns?.percentile?.[p] ?? 0) / 1000;
  const main = dirs[0];
  return {
    iops: sum((d) => d.iops),
    mibPerSec: sum((d) => d.bw_bytes) / 2 ** 20,
    p50us: pct(main, '50.000000'),
    p99us: pct(main, '99.000000'),
    bytes: sum((d) => d.io_bytes),
    runtimeMs: Math.max(...dirs.map((d) => d.runtime)),
  };
}
