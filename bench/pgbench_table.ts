/**
 * Pure part of the pgbench section: what one pgbench run printed, per-round ratios and
 * the markdown tables (no processes, no files).
 */
import { markdownTable } from './bench_table.ts';

/** The pgbench workloads of the section, in the order each round runs them. */
export const PG_MODES = [
  { id: 'tpcb-8', label: 'TPC-B-like, 8 clients', args: ['-c', '8', '-j', '8'], tpcb: true },
  { id: 'tpcb-1', label: 'TPC-B-like, 1 client', args: ['-c', '1', '-j', '1'], tpcb: true },
  { id: 'select-8', label: 'select-only, 8 clients', args: ['-S', '-c', '8', '-j', '8'], tpcb: false },
] as const;
export type PgModeId = (typeof PG_MODES)[number]['id'];

export interface PgRun {
  tps: number;
  /** pgbench's "latency average", milliseconds. */
  latencyMs: number;
  /** Engine CPU (user+system, /proc) per transaction, microseconds; absent for targets without an engine. */
  engineCpuUsPerTxn?: number;
}

/** `tps = 1234.5 (without initial connection time)` and `latency average = 3.605 ms`. */
export function parsePgbench(stdout: string): { tps: number; latencyMs: number } {
  const tps = /^tps = ([\d.]+)/m.exec(stdout);
  const lat = /^latency average = ([\d.]+) ms/m.exec(stdout);
  if (!tps || !lat) throw new Error(`pgbench printed no tps/latency: ${stdout.slice(-300)}`);
  return { tps: Number(tps[1]), latencyMs: Number(lat[1]) };
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median over rounds of subject[i] / base[i]; rounds where either side failed are left out. */
export function medianRatio(subject: readonly (PgRun | undefined)[], base: readonly (PgRun | undefined)[]): number {
  const rs: number[] = [];
  for (let i = 0; i < subject.length; i++) {
    const s = subject[i];
    const b = base[i];
    if (s && b && b.tps > 0) rs.push(s.tps / b.tps);
  }
  return median(rs);
}

/** runs[targetName][modeId][round]; undefined = that run failed. */
export type PgResults = Record<string, Partial<Record<PgModeId, (PgRun | undefined)[]>>>;

const fmt = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—');

/**
 * One line per workload: each target's median TPS (median latency), then each ratio
 * subject/base as the median of per-round ratios, then the engine CPU per txn of each of `cpuOf`.
 */
export function pgTable(results: PgResults, targets: readonly string[], ratios: readonly { subject: string; base: string }[], cpuOf: string | readonly string[]): string {
  const cpuTargets = typeof cpuOf === 'string' ? [cpuOf] : cpuOf;
  const header = ['Workload', ...targets.map((t) => `${t} TPS (latency ms)`), ...ratios.map((r) => `${r.subject} / ${r.base}`), ...cpuTargets.map((c) => `${c} engine CPU µs / txn`)];
  const rows = PG_MODES.filter((m) => targets.some((t) => results[t]?.[m.id])).map((m) => {
    const cells = targets.map((t) => {
      const runs = (results[t]?.[m.id] ?? []).filter((r): r is PgRun => r !== undefined);
      return runs.length ? `${fmt(median(runs.map((r) => r.tps)))} (${fmt(median(runs.map((r) => r.latencyMs)), 2)})` : '—';
    });
    const rs = ratios.map((r) => fmt(medianRatio(results[r.subject]?.[m.id] ?? [], results[r.base]?.[m.id] ?? []), 2));
    const cpu = cpuTargets.map((c) => fmt(median((results[c]?.[m.id] ?? []).map((r) => r?.engineCpuUsPerTxn ?? NaN))));
    return [m.label, ...cells, ...rs, ...cpu];
  });
  return markdownTable(header, rows);
}
