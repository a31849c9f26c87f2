/**
 * The dashboard's pure part for the live pages: the event log's records and the I/O
 * series the control plane serves (GET /v1/events, GET /v1/volumes/:id/io), and the
 * geometry of the charts drawn from them (inline SVG, drawn in web/charts.ts). No DOM,
 * no I/O; only erasable TypeScript (served with its types stripped).
 */
import { formatBytes } from './view_model.ts';

export interface EventInfo {
  id: string;
  time: string;
  atMs: number;
  type: string;
  severity: string;
  object: { kind: string; id: string; name?: string };
  reason: string;
  message: string;
  involved?: Record<string, string>;
}

export interface IoPointInfo {
  atMs: number;
  readIops: number;
  writeIops: number;
  readBytesPerSec: number;
  writeBytesPerSec: number;
  readLatencyMs: number | null;
  writeLatencyMs: number | null;
}

export interface IoSeriesInfo {
  volumeId: string;
  intervalMs: number;
  windowSeconds: number;
  export: { nodeId?: string; pool?: string; volume?: string } | null;
  note?: string;
  points: IoPointInfo[];
}

/** `volume/pvc-a`, `node/n1`: an event's object for people (the name when it has one). */
export function eventObject(e: EventInfo): string {
  return `${e.object.kind}/${e.object.name ?? e.object.id}`;
}

/** Filters of the events page: a type, and a substring of the object or message. */
export function filterEvents(events: readonly EventInfo[], f: { type: string; text: string }): EventInfo[] {
  const text = f.text.trim().toLowerCase();
  return events.filter((e) => (f.type === '' || e.type === f.type)
    && (text === '' || eventObject(e).toLowerCase().includes(text) || e.message.toLowerCase().includes(text)));
}

/** A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

export interface ChartLine {
  label: string;
  /** SVG path data, one `M` per unbroken run (a null value breaks the line). */
  d: string;
  /** The newest value, for the legend and the table beside the chart. */
  last: number | null;
  /** Where the newest value is drawn (marked with a dot, so a single sample shows too). */
  lastAt: { x: number; y: number } | null;
}

export interface ChartGeometry {
  width: number;
  height: number;
  /** The top of the y axis. */
  max: number;
  lines: ChartLine[];
}

/** Lines over the series' times, scaled to `width` × `height` with 0 at the bottom. */
export function chartGeometry(
  times: readonly number[], series: readonly { label: string; values: readonly (number | null)[] }[], width: number, height: number,
): ChartGeometry {
  const values = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = niceMax(Math.max(0, ...values));
  const t0 = times[0] ?? 0;
  const span = Math.max(1, (times[times.length - 1] ?? 0) - t0);
  const x = (t: number): number => Number((((t - t0) / span) * width).toFixed(1));
  const y = (v: number): number => Number((height - (v / max) * height).toFixed(1));
  const lines = series.map((s) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(times[i])},${y(v)}`;
      pen = true;
    });
    const n = s.values.length;
    const last = n > 0 ? s.values[n - 1] : null;
    return { label: s.label, d, last, lastAt: last === null ? null : { x: x(times[n - 1]), y: y(last) } };
  });
  return { width, height, max, lines };
}

/** 1234 → "1.2k": rates for axes and legends. */
export function formatRate(n: number | null): string {
  if (n === null) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n >= 10 || n === 0 ? n.toFixed(0) : n.toFixed(1);
}

/** Milliseconds with a precision that fits: 0.084 ms, 1.3 ms, 120 ms. */
export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(0)} ms`;
}

/**
 * A snapshot's space for people: the bytes only it holds, per copy ("3.0 MiB", or
 * "3.0 MiB / 3.2 MiB" when its copies differ), with the copies not reported counted;
 * undefined when no copy reported it (the page then shows the size instead, marked).
 */
export function snapshotSpaceText(copies: readonly { exclusiveBytes: number | null }[] | undefined): string | undefined {
  const known = (copies ?? []).flatMap((c) => (c.exclusiveBytes === null ? [] : [c.exclusiveBytes]));
  if (known.length === 0) return undefined;
  const text = [...new Set(known.map((b) => formatBytes(b)))].join(' / ');
  const missing = (copies ?? []).length - known.length;
  return missing === 0 ? text : `${text} (${missing} ${missing === 1 ? 'copy' : 'copies'} not reported)`;
}
