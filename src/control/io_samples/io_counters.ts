/**
 * An engine's per-export I/O counters, read from its Prometheus text (/metrics): the
 * families berth_volume_io_ops_total, berth_volume_io_bytes_total and the _sum/_count of
 * berth_volume_io_latency_seconds (docs/monitoring.md), by `pool/volume`. Pure; reads only
 * the lines it needs and ignores the rest, so new families or labels do not break it.
 */

export interface IoCounters {
  readOps: number;
  writeOps: number;
  readBytes: number;
  writeBytes: number;
  /** Seconds of latency summed over completed reads / writes (the histogram's _sum). */
  readLatencySum: number;
  writeLatencySum: number;
}

export const ZERO_COUNTERS: Readonly<IoCounters> = { readOps: 0, writeOps: 0, readBytes: 0, writeBytes: 0, readLatencySum: 0, writeLatencySum: 0 };

const FIELD: Record<string, { read: keyof IoCounters; write: keyof IoCounters }> = {
  berth_volume_io_ops_total: { read: 'readOps', write: 'writeOps' },
  berth_volume_io_bytes_total: { read: 'readBytes', write: 'writeBytes' },
  berth_volume_io_latency_seconds_sum: { read: 'readLatencySum', write: 'writeLatencySum' },
};

const LINE = /^(berth_volume_io_(?:ops_total|bytes_total|latency_seconds_sum))\{([^}]*)\}\s+(\S+)/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;

/** Counters per `pool/volume` export. */
export function parseIoCounters(text: string): Map<string, IoCounters> {
  const out = new Map<string, IoCounters>();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of m[2].matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const op = labels.op;
    if ((op !== 'read' && op !== 'write') || labels.pool === undefined || labels.volume === undefined) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const key = `${labels.pool}/${labels.volume}`;
    let c = out.get(key);
    if (c === undefined) out.set(key, c = { ...ZERO_COUNTERS });
    c[FIELD[m[1]][op]] = value;
  }
  return out;
}
