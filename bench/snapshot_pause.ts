/**
 * fio against an engine for bench/snapshot_cow.ts, and the write pause of a snapshot
 * taken under a 4k randwrite QD32 load. On a shared machine the longest completion of a
 * whole run is often a stall of the machine (other jobs, the engine's GC) far from the
 * snapshot; fio's per-I/O completion log, in wall-clock time, tells the writes that
 * completed while the snapshot ran (and just after it, while its first copy-ups go out)
 * from the rest of the run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { fioArgs } from './fio.ts';
import { Metric, type RowSpec } from './bench_rows.ts';
import type { RunningTarget } from './targets.ts';

const execFileP = promisify(execFile);
export const RANDWRITE: RowSpec = { id: 'cow-randwrite', label: '4k randwrite QD32', rw: 'randwrite', blockSize: '4k', iodepth: 32, numjobs: 1, metric: Metric.iops };
export const PASS: RowSpec = { id: 'cow-pass', label: '1M write pass', rw: 'write', blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth };
/** After a snapshot answers, its first copy-ups still go out: the window around it runs this much longer. */
export const SETTLE_MS = 300;

export interface FioFigures { iops: number; maxClatMs: number; errors: number; ios: number }

export async function fio(fioBin: string, url: string, row: RowSpec, extra: string[], runtimeS?: number): Promise<FioFigures> {
  // `randommap` in `extra` drops fio's --norandommap: each block at most once per run.
  const base = fioArgs({ fio: fioBin, url, row, ...(runtimeS !== undefined ? { runtimeS } : {}) });
  const args = [...(extra.includes('randommap') ? base.filter((a) => a !== '--norandommap') : base), ...extra.filter((a) => a !== 'randommap')];
  const out = await execFileP(fioBin, args, { timeout: ((runtimeS ?? 600) + 60) * 1000, killSignal: 'SIGKILL', maxBuffer: 64 * 2 ** 20 });
  const doc = JSON.parse(out.stdout.slice(out.stdout.indexOf('{'))) as {
    jobs: Array<{ error?: number; write: { iops: number; total_ios?: number; clat_ns?: { max?: number } } }>;
  };
  const j = doc.jobs[0];
  return { iops: j.write.iops, maxClatMs: (j.write.clat_ns?.max ?? 0) / 1e6, errors: j.error ?? 0, ios: j.write.total_ios ?? 0 };
}

/** Takes snapshot `name` of the bench volume; resolves to the API call's time, ms. */
export async function snapshotVia(t: RunningTarget, name: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${t.api}/v1/pools/bench/volumes/vol/snapshots`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`snapshot ${name}: HTTP ${res.status} ${await res.text()}`);
  return performance.now() - t0;
}

export async function deleteSnapshot(t: RunningTarget, name: string): Promise<void> {
  const res = await fetch(`${t.api}/v1/pools/bench/snapshots/${name}`, { method: 'DELETE' });
  if (res.status !== 204) throw new Error(`delete ${name}: HTTP ${res.status}`);
}

export interface PauseWindow {
  /** Longest completion latency of a write that completed inside the window, ms. */
  insideMaxMs: number;
  /** Longest of the writes that completed outside it, ms. */
  outsideMaxMs: number;
}

/**
 * Reads fio's completion log (`<prefix>_clat.N.log`: Unix ms, ns, direction, size, …)
 * and splits it at [fromMs, toMs].
 */
export function pauseWindow(dir: string, prefix: string, fromMs: number, toMs: number): PauseWindow {
  const file = readdirSync(dir).find((n) => n.startsWith(`${prefix}_clat.`));
  if (file === undefined) throw new Error(`fio wrote no completion log ${prefix}_clat.*.log in ${dir}`);
  let inside = 0;
  let outside = 0;
  for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
    const comma = line.indexOf(',');
    if (comma < 0) continue;
    const at = Number(line.slice(0, comma));
    const ns = Number(line.slice(comma + 1, line.indexOf(',', comma + 1)));
    if (at >= fromMs && at <= toMs) inside = Math.max(inside, ns);
    else outside = Math.max(outside, ns);
  }
  return { insideMaxMs: inside / 1e6, outsideMaxMs: outside / 1e6 };
}

export interface LatencyRounds {
  quiet: FioFigures[];
  during: FioFigures[];
  windows: PauseWindow[];
  apiMs: number[];
  loads: string[];
  errors: number;
}

/**
 * Rounds of: a run with no snapshot, then a run with one taken mid-run (with fio's
 * completion log, to find the writes around it), then that snapshot deleted.
 */
export async function latencyRounds(fioBin: string, t: RunningTarget, o: { rounds: number; runtimeS: number; log: (s: string) => void }): Promise<LatencyRounds> {
  const r: LatencyRounds = { quiet: [], during: [], windows: [], apiMs: [], loads: [], errors: 0 };
  const logDir = mkdtempSync(join(tmpdir(), 'berth-cow-lat-'));
  const ms = (x: number): string => x.toFixed(1);
  try {
    for (let i = 0; i < o.rounds; i++) {
      r.loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
      r.quiet.push(await fio(fioBin, t.url, RANDWRITE, [], o.runtimeS));
      const loaded = fio(fioBin, t.url, RANDWRITE, [`--write_lat_log=${join(logDir, `l${i}`)}`, '--log_avg_msec=0', '--log_unix_epoch=1'], o.runtimeS);
      await new Promise((res) => setTimeout(res, (o.runtimeS * 1000) / 2));
      const from = Date.now();
      r.apiMs.push(await snapshotVia(t, `l${i}`));
      const to = Date.now() + SETTLE_MS;
      r.during.push(await loaded);
      r.windows.push(pauseWindow(logDir, `l${i}`, from, to));
      for (const n of readdirSync(logDir)) rmSync(join(logDir, n));
      await deleteSnapshot(t, `l${i}`);
      r.errors += r.quiet[i].errors + r.during[i].errors;
      o.log(`cow fio load round ${i} (load ${r.loads[i]}): max clat ${ms(r.quiet[i].maxClatMs)} ms without a snapshot, ${ms(r.during[i].maxClatMs)} ms with one `
        + `(${ms(r.windows[i].insideMaxMs)} ms around it, ${ms(r.windows[i].outsideMaxMs)} ms elsewhere; API ${ms(r.apiMs[i])} ms)`);
    }
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
  return r;
}

/** The table rows of latencyRounds. */
export function latencyRows(r: LatencyRounds): string[][] {
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(' / ');
  return [
    ['max clat, runs without a snapshot, ms', list(r.quiet.map((f) => f.maxClatMs))],
    ['max clat, runs with a snapshot taken mid-run, ms', list(r.during.map((f) => f.maxClatMs))],
    [`of those runs: longest write completing from the snapshot request to ${SETTLE_MS} ms after its answer, ms`, list(r.windows.map((w) => w.insideMaxMs))],
    ['of those runs: longest write completing at any other time, ms', list(r.windows.map((w) => w.outsideMaxMs))],
    ['snapshot create through the API under that load, ms', list(r.apiMs)],
    ['load average (1 min) at the start of each round', r.loads.join(' / ')],
  ];
}
