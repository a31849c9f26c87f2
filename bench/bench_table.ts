/**
 * Turns measurements into markdown tables (printed and written to docs) and the
 * Berth/tgt ratio. Pure: values in, text out.
 */
import { Metric, type RowSpec } from './bench_rows.ts';
import type { FioResult } from './fio.ts';

export interface Measurement {
  fio: FioResult;
  /** Target process CPU (user + system) during the measured part of the row. */
  cpuSeconds: number;
  cpuSecondsPerGiB: number;
}

export type Cell = Measurement | { error: string };

export interface RowOutcome {
  row: RowSpec;
  /** By target name, e.g. "berth", "tgt". */
  cells: Record<string, Cell | undefined>;
}

export interface Section {
  title: string;
  rows: RowOutcome[];
}

export interface Comparison {
  /** The target under test and the peer it is measured against. */
  subject: string;
  baseline: string;
}

const DASH = '—';

function isMeasured(c: Cell | undefined): c is Measurement {
  return c !== undefined && 'fio' in c;
}

function headline(m: Measurement, metric: Metric): number {
  return metric === Metric.iops ? m.fio.iops : m.fio.mibPerSec;
}

/** subject/baseline on the row's headline metric; 0 when the subject failed the row. */
export function rowRatio(r: RowOutcome, c: Comparison): number | undefined {
  const s = r.cells[c.subject];
  const b = r.cells[c.baseline];
  if (!isMeasured(b) || s === undefined) return undefined;
  if (!isMeasured(s)) return 0;
  const base = headline(b, r.row.metric);
  return base > 0 ? headline(s, r.row.metric) / base : undefined;
}

export function minRatio(sections: readonly Section[], c: Comparison): number | undefined {
  let min: number | undefined;
  for (const s of sections) {
    for (const r of s.rows) {
      const x = rowRatio(r, c);
      if (x !== undefined && (min === undefined || x < min)) min = x;
    }
  }
  return min;
}

export function minRatioLine(sections: readonly Section[], c: Comparison): string {
  const m = minRatio(sections, c);
  return `min ${label(c.subject)}/${label(c.baseline)} ratio: ${m === undefined ? 'n/a' : m.toFixed(2)}`;
}

export function label(target: string): string {
  return target === 'berth' ? 'Berth' : target;
}

function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function fmtCells(c: Cell | undefined): string[] {
  if (c === undefined) return [DASH, DASH, DASH, DASH];
  if (!isMeasured(c)) return [`error: ${c.error.split('\n')[0].slice(0, 60)}`, DASH, DASH, DASH];
  const f = c.fio;
  return [int(f.iops), f.mibPerSec.toFixed(0), `${int(f.p50us)} / ${int(f.p99us)}`, c.cpuSecondsPerGiB.toFixed(2)];
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const sep = header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

/** One table per backing kind: each target's figures side by side, then the ratio. */
export function sectionTable(s: Section, targets: readonly string[], c: Comparison): string {
  const header = ['row'];
  for (const t of targets) {
    const n = label(t);
    header.push(`${n} IOPS`, `${n} MiB/s`, `${n} p50 / p99 µs`, `${n} CPU s/GiB`);
  }
  const both = targets.includes(c.subject) && targets.includes(c.baseline);
  if (both) header.push(`${label(c.subject)}/${label(c.baseline)}`);
  const rows = s.rows.map((r) => {
    const cells = [r.row.label];
    for (const t of targets) cells.push(...fmtCells(r.cells[t]));
    if (both) {
      const x = rowRatio(r, c);
      cells.push(x === undefined ? DASH : `${x.toFixed(2)} (${r.row.metric === Metric.iops ? 'IOPS' : 'MiB/s'})`);
    }
    return cells;
  });
  return `### ${s.title}\n\n${markdownTable(header, rows)}`;
}

export interface IdleFigures {
  volumes: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  idleCpuPercent: number;
  idleSeconds: number;
}

export function idleTable(f: IdleFigures): string {
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
  return markdownTable(
    ['engine, idle', 'value'],
    [
      ['RSS, no volumes (MiB)', mib(f.rssBeforeBytes)],
      [`RSS, ${f.volumes} thin volumes exported (MiB)`, mib(f.rssAfterBytes)],
      // /proc counts CPU in 10 ms ticks: below one tick per window there is nothing to show.
      [`CPU over ${f.idleSeconds} s idle (% of one core)`, f.idleCpuPercent < 1 / f.idleSeconds ? `< ${(1 / f.idleSeconds).toFixed(2)}` : f.idleCpuPercent.toFixed(2)],
    ],
  );
}
