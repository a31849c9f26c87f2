import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { parseFioJson } from '../../bench/fio.ts';
import { PREFILL_ROW, type RowSpec } from '../../bench/bench_rows.ts';
import { BerthError } from '../util/errors.ts';
import { printDocument, type OutputFormat } from './cli_output.ts';
import { parseSize } from './sizes.ts';
import {
  BENCH_TABLE_HEADER, benchRow, benchTableRows, pgbenchTableRows, hostBenchRows, iscsiFioArgs, localFioArgs, type BenchCell, type BenchRow, type BenchRun,
} from './host_bench.ts';
import { runPgbench, type PgbenchRow } from './bench_pgbench.ts';
import { addNetworkPathOptions, runNetworkPaths, type NetworkPathFlags } from './bench_netpath.ts';

export interface HostBenchOptions {
  /** The volume fio overwrites; absent: pgbench rows only. */
  url?: string;
  /** A filesystem on a Berth volume (not the --url one), mounted here: the pgbench rows. */
  pgbench?: { dir: string; scale: number; clients: number; bin?: string };
  localDir: string;
  sizeBytes: number;
  runtimeS: number;
  rampS: number;
  fio?: string;
  initiator?: string;
  /** Progress lines (the CLIs write them to stderr, so stdout holds only the report). */
  log: (line: string) => void;
}

export interface HostBenchReport {
  runtimeS: number;
  /** The fio rows, when --url was given. */
  rows: BenchRow[];
  fio?: { binary: string; sizeBytes: number; localFile: string; direct: boolean };
  pgbench?: PgbenchRow[];
  pgbenchSetup?: { scale: number; clients: number };
}

/** fio with the libiscsi engine: --fio, $BERTH_FIO, scripts/build-fio.sh's .build/fio/fio, then fio on PATH. */
export function fioCandidates(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const repo = resolve(import.meta.dirname, '..', '..');
  if (flag) return [flag];
  if (env.BERTH_FIO) return [env.BERTH_FIO];
  const built = join(repo, '.build', 'fio', 'fio');
  return existsSync(built) ? [built, 'fio'] : ['fio'];
}

function exec(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${(stderr || stdout || err.message).trim().split('\n').slice(-3).join(' ')}`));
      else res(stdout);
    });
  });
}

async function findFio(flag: string | undefined): Promise<string> {
  for (const fio of fioCandidates(flag)) {
    const engines = await exec(fio, ['--enghelp'], 30_000).catch(() => '');
    if (/\blibiscsi\b/.test(engines)) return fio;
  }
  throw new BerthError('FIO_MISSING', 'no fio with the libiscsi engine (Debian\'s fio has none): build one with '
    + 'scripts/build-fio.sh (it lands in .build/fio/fio) or give --fio PATH');
}

async function cell(fio: string, args: string[], row: RowSpec, budgetS: number): Promise<BenchCell> {
  try {
    return parseFioJson(await exec(fio, args, budgetS * 1000), row.rw);
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** fio rows (with --url), then pgbench rows (with --pgbench-dir). */
export async function runHostBench(o: HostBenchOptions): Promise<HostBenchReport> {
  const report: HostBenchReport = { runtimeS: o.runtimeS, rows: [] };
  if (o.url !== undefined) {
    const f = await runFioRows(o, o.url);
    report.rows = f.rows;
    report.fio = { binary: f.fio, sizeBytes: o.sizeBytes, localFile: f.localFile, direct: f.direct };
  }
  if (o.pgbench !== undefined) {
    const p = o.pgbench;
    report.pgbench = await runPgbench({ berthDir: p.dir, localDir: o.localDir, binFlag: p.bin, scale: p.scale, clients: p.clients, runtimeS: o.runtimeS, log: o.log });
    report.pgbenchSetup = { scale: p.scale, clients: p.clients };
  }
  return report;
}

/** Pre-fills both sides (so reads read data), then runs each row on Berth and then locally. */
async function runFioRows(o: HostBenchOptions, url: string): Promise<{ fio: string; localFile: string; direct: boolean; rows: BenchRow[] }> {
  const fio = await findFio(o.fio);
  const file = join(o.localDir, `berth-bench-${process.pid}.img`);
  const budget = o.runtimeS + o.rampS + 120;
  try {
    const fill: BenchRun = { row: PREFILL_ROW, sizeBytes: o.sizeBytes };
    o.log(`pre-filling ${o.sizeBytes} bytes of the volume and of ${file}`);
    const berthFill = await cell(fio, iscsiFioArgs(url, fill, o.initiator), PREFILL_ROW, 1800);
    if ('error' in berthFill) throw new BerthError('BENCH_FAILED', `fio could not write the volume at ${url}: ${berthFill.error}`);
    // O_DIRECT first; a file system without it (tmpfs) gets buffered I/O, and the report says so.
    let direct = true;
    let localFill = await cell(fio, localFioArgs(file, fill, true), PREFILL_ROW, 1800);
    if ('error' in localFill) {
      direct = false;
      localFill = await cell(fio, localFioArgs(file, fill, false), PREFILL_ROW, 1800);
      if ('error' in localFill) throw new BerthError('BENCH_FAILED', `fio could not write ${file}: ${localFill.error}`);
    }
    const rows: BenchRow[] = [];
    for (const row of hostBenchRows()) {
      const r: BenchRun = { row, runtimeS: o.runtimeS, rampS: o.rampS, sizeBytes: o.sizeBytes };
      o.log(`${row.label}: Berth`);
      const berth = await cell(fio, iscsiFioArgs(url, r, o.initiator), row, budget);
      o.log(`${row.label}: local`);
      const local = await cell(fio, localFioArgs(file, r, direct), row, budget);
      rows.push(benchRow(row, berth, local));
    }
    return { fio, localFile: file, direct, rows };
  } finally {
    await rm(file, { force: true });
  }
}

/** The ratio table alone: fio rows, then pgbench rows (`kubectl berth bench --class` prints its own notes under it). */
export function benchReportTable(r: HostBenchReport): string {
  const table = new Table({ head: [...BENCH_TABLE_HEADER], style: { head: [], border: [] } });
  for (const row of benchTableRows(r.rows)) table.push(row);
  for (const row of pgbenchTableRows(r.pgbench ?? [])) table.push(row);
  return table.toString();
}

export function printBenchReport(format: OutputFormat, r: HostBenchReport): void {
  if (format !== 'table') {
    printDocument(format, r);
    return;
  }
  process.stdout.write(benchReportTable(r) + '\n');
  if (r.fio) {
    process.stdout.write(`fio ${r.runtimeS} s per row over ${r.fio.sizeBytes} bytes; local file ${r.fio.direct ? 'with O_DIRECT' : 'buffered (no O_DIRECT here)'};`
      + ' ratio on IOPS (4k) or MiB/s (1 MiB)\n');
  }
  if (r.pgbenchSetup) process.stdout.write(`pgbench ${r.runtimeS} s per row, scale ${r.pgbenchSetup.scale}, ${r.pgbenchSetup.clients} clients; ratio on tps\n`);
  process.stdout.write('compare only within one run\n');
}

/** The flags `berth bench` and `kubectl berth bench` share. */
export function addBenchOptions(c: Command): Command {
  return c
    .option('--url <iscsi-url>', "the Berth volume's iSCSI URL (iscsi://HOST:PORT/IQN/LUN, from `berth export` or `volume describe`)")
    .option('--overwrite', 'confirm that the bench may overwrite the first --size bytes of the volume')
    .option('--local-dir <dir>', 'directory on local disk for the comparison file', tmpdir())
    .option('--size <size>', 'bytes of the volume and of the local file to use', '256MiB')
    .option('--runtime <seconds>', 'seconds per row', '10')
    .option('--ramp <seconds>', 'seconds of warm-up per row, not counted', '2')
    .option('--fio <path>', 'fio built with the libiscsi engine (default: .build/fio/fio from scripts/build-fio.sh)')
    .option('--initiator <iqn>', 'initiator IQN fio logs in with (for an export that admits only that initiator)')
    .option('--pgbench-dir <dir>', 'a filesystem on a Berth volume (not the --url one) mounted here: adds pgbench rows')
    .option('--pgbench-scale <n>', 'pgbench scale factor (≈ 16 MB each)', '10')
    .option('--pgbench-clients <n>', 'pgbench clients (and threads)', '4')
    .option('--pg-bin <dir>', 'PostgreSQL programs (default: the newest /usr/lib/postgresql/N/bin)');
}

export interface BenchFlags {
  url?: string; overwrite?: boolean; localDir: string; size: string; runtime: string; ramp: string; fio?: string; initiator?: string;
  pgbenchDir?: string; pgbenchScale: string; pgbenchClients: string; pgBin?: string;
}

function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 3600) throw new BerthError('INVALID_ARGUMENT', `${flag} must be whole seconds from 0 to 3600, not '${text}'`);
  return n;
}

function whole(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new BerthError('INVALID_ARGUMENT', `${flag} must be a whole number from 1 to 10000, not '${text}'`);
  return n;
}

/** Flags → options, refusing before fio runs: no URL, no --overwrite, a bad number. */
export function benchOptions(f: BenchFlags, log: (line: string) => void): HostBenchOptions {
  if (!f.url && !f.pgbenchDir) {
    throw new BerthError('INVALID_ARGUMENT', 'give --url iscsi://HOST:PORT/IQN/LUN of a Berth volume exported to this host (and/or --pgbench-dir)');
  }
  if (f.url) {
    if (!/^iscsi:\/\//.test(f.url)) throw new BerthError('INVALID_ARGUMENT', `--url must be an iscsi:// URL, not '${f.url}'`);
    if (!f.overwrite) throw new BerthError('INVALID_ARGUMENT', 'the bench writes over the volume\'s data: add --overwrite to confirm');
  }
  const runtimeS = seconds(f.runtime, '--runtime');
  if (runtimeS < 1) throw new BerthError('INVALID_ARGUMENT', '--runtime must be at least 1 second');
  return {
    url: f.url, localDir: f.localDir, sizeBytes: parseSize(f.size), runtimeS, rampS: seconds(f.ramp, '--ramp'),
    fio: f.fio, initiator: f.initiator, log,
    ...(f.pgbenchDir ? { pgbench: { dir: f.pgbenchDir, scale: whole(f.pgbenchScale, '--pgbench-scale'), clients: whole(f.pgbenchClients, '--pgbench-clients'), bin: f.pgBin } } : {}),
  };
}

/** `berth bench`: registered on the CLI like the other command groups. */
export function registerBenchCommand(program: Command, format: () => OutputFormat, run: (fn: (f: BenchFlags) => Promise<void>) => (f: BenchFlags) => Promise<void>): void {
  addNetworkPathOptions(addBenchOptions(program.command('bench')
    .description('fio on a Berth volume (iSCSI) and on a local file side by side: 4k random read/write, 1 MiB sequential; prints the ratios')))
    .action(run(async (f: BenchFlags & NetworkPathFlags) => {
      if (f.networkPaths) {
        await runNetworkPaths(f, format(), (line) => { process.stderr.write(`bench: ${line}\n`); });
        return;
      }
      const report = await runHostBench(benchOptions(f, (line) => { process.stderr.write(`bench: ${line}\n`); }));
      printBenchReport(format(), report);
    }));
}
