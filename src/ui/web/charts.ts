/**
 * The volume page's live I/O: three small line charts (IOPS, throughput, latency; read
 * and write) as inline SVG, each an image with a text alternative that says the newest
 * values, and the same newest values in a table. Redrawn on each refresh of the page.
 */
import { h, table, type Child } from './dom.ts';
import { formatBytes } from '../view_model.ts';
import { chartGeometry, formatMs, formatRate, type IoPointInfo, type IoSeriesInfo } from '../live_model.ts';

const SVG = 'http://www.w3.org/2000/svg';
const W = 360;
const H = 110;
/** Read solid blue, write dashed orange: told apart without colour too. */
const STYLE = [{ stroke: '#0550ae', dash: undefined }, { stroke: '#bc4c00', dash: '5 3' }];

function svg(tag: string, attrs: Record<string, string | number | undefined>, ...children: (Element | string)[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

interface ChartSpec {
  id: string;
  title: string;
  read: (p: IoPointInfo) => number | null;
  write: (p: IoPointInfo) => number | null;
  format: (v: number | null) => string;
}

const CHARTS: ChartSpec[] = [
  { id: 'iops', title: 'IOPS', read: (p) => p.readIops, write: (p) => p.writeIops, format: formatRate },
  { id: 'throughput', title: 'Throughput', read: (p) => p.readBytesPerSec, write: (p) => p.writeBytesPerSec, format: (v) => (v === null ? '—' : `${formatBytes(v)}/s`) },
  { id: 'latency', title: 'Latency (mean)', read: (p) => p.readLatencyMs, write: (p) => p.writeLatencyMs, format: formatMs },
];

function chart(spec: ChartSpec, series: IoSeriesInfo): HTMLElement {
  const pts = series.points;
  const g = chartGeometry(pts.map((p) => p.atMs), [
    { label: 'read', values: pts.map(spec.read) }, { label: 'write', values: pts.map(spec.write) },
  ], W, H);
  const now = g.lines.map((l) => `${l.label} ${spec.format(l.last)}`).join(', ');
  const minutes = Math.round(series.windowSeconds / 60);
  const label = `${spec.title} over the last ${minutes} minutes, now ${now}`;
  const titleId = `chart-${spec.id}-title`;
  const image = svg('svg', { viewBox: `-2 -4 ${W + 4} ${H + 8}`, width: W, height: H, role: 'img', 'aria-labelledby': titleId, class: 'chart' },
    svg('title', { id: titleId }, label),
    svg('line', { x1: 0, y1: H, x2: W, y2: H, stroke: '#d0d7de' }),
    svg('line', { x1: 0, y1: 0, x2: W, y2: 0, stroke: '#eaeef2' }),
    ...g.lines.map((l, i) => svg('path', { d: l.d, fill: 'none', stroke: STYLE[i].stroke, 'stroke-width': 1.6, 'stroke-dasharray': STYLE[i].dash })),
    ...g.lines.flatMap((l, i) => (l.lastAt === null ? [] : [svg('circle', { cx: l.lastAt.x, cy: l.lastAt.y, r: 2.5, fill: STYLE[i].stroke })])));
  return h('figure', { class: 'chart-figure' },
    h('figcaption', {}, h('strong', {}, spec.title), ` — top of axis ${spec.format(g.max)}`),
    image,
    h('p', { class: 'legend' }, ...g.lines.flatMap((l, i): Child[] => [
      h('span', { class: `key key-${i === 0 ? 'read' : 'write'}` }, l.label), ` ${spec.format(l.last)} `,
    ])));
}

/** The "Live I/O" step of the volume page. */
export function ioSection(series: IoSeriesInfo | undefined, error?: string): HTMLElement {
  const head = h('h3', { id: 'io-h' }, 'Live I/O');
  if (series === undefined) return h('section', { 'aria-labelledby': 'io-h' }, head, h('p', { class: 'muted' }, error ?? 'No I/O figures.'));
  const ex = series.export;
  const from = ex === null ? 'not published' : `from export ${ex.pool ?? '?'}/${ex.volume ?? '?'} on ${ex.nodeId ?? '?'}, sampled every ${series.intervalMs / 1000} s`;
  const last = series.points.at(-1);
  return h('section', { 'aria-labelledby': 'io-h' }, head,
    h('p', { class: 'muted', id: 'io-source' }, `Counters ${from}.`),
    series.note !== undefined ? h('p', { class: 'muted', role: 'note' }, series.note) : null,
    series.points.length === 0 ? null : h('div', { class: 'charts' }, ...CHARTS.map((c) => chart(c, series))),
    last === undefined ? null : table('Latest I/O rates', ['Direction', '#IOPS', '#Throughput', '#Latency'], [
      ['read', formatRate(last.readIops), `${formatBytes(last.readBytesPerSec)}/s`, formatMs(last.readLatencyMs)],
      ['write', formatRate(last.writeIops), `${formatBytes(last.writeBytesPerSec)}/s`, formatMs(last.writeLatencyMs)],
    ]));
}
