import { BerthError } from '../util/errors.ts';
import { formatBytes } from './sizes.ts';
import { printObject, printRows, type Column, type OutputFormat } from './cli_output.ts';

/** The API's nexus documents as the CLI reads them (see src/engine/nexus_view.ts). */
export interface ReplicaDoc {
  name: string; node: string; pool: string; volume: string; local: boolean; state: string; reason?: string;
  missingBytes: number;
  rebuild: { percent: number; bytesDone: number; bytesTotal: number; bytesCopied: number; rate: number; etaSeconds: number | null } | null;
  lastRebuild: { outcome: string; bytesCopied: number; bytesTotal: number; seconds: number; finishedAt: string } | null;
  /** Why the last attempt to bring it back failed, and when the next comes (absent from older engines). */
  lastError?: string | null; retryAt?: string | null; retryAttempts?: number;
}

export interface NexusDoc {
  name: string; uuid: string; generation: number; state: string; reason?: string; sizeBytes: number; blockSize: number;
  thin: boolean; rebuildThrottleBytesPerSec: number; rebuildThrottleMode?: string; export: { targetIqn: string; lun: number; url: string } | null;
  replicas: ReplicaDoc[];
}

/** `NODE/POOL/VOLUME`, NODE being `local` or the engine's replica `host:port` (the replica's name). */
export function parseReplicaRef(text: string): { node: string; pool: string; volume: string } {
  const parts = text.split('/');
  if (parts.length < 3 || parts.some((p) => p.length === 0)) {
    throw new BerthError('INVALID_ARGUMENT', `a replica is NODE/POOL/VOLUME (NODE = local or host:port), got '${text}'`);
  }
  const volume = parts.pop() as string;
  const pool = parts.pop() as string;
  return { node: parts.join('/'), pool, volume };
}

/** "200 MiB/s (adaptive)": the byte cap ("none"), and whether rebuilds yield to foreground I/O. */
export function throttleText(n: Pick<NexusDoc, 'rebuildThrottleBytesPerSec' | 'rebuildThrottleMode'>): string {
  const cap = n.rebuildThrottleBytesPerSec ? `${formatBytes(n.rebuildThrottleBytesPerSec)}/s` : 'none';
  return n.rebuildThrottleMode ? `${cap} (${n.rebuildThrottleMode})` : cap;
}

/** "37.5% 120 MiB/s eta 12s", or how the last rebuild ended, or "-". */
export function rebuildText(r: ReplicaDoc): string {
  if (r.rebuild) {
    const eta = r.rebuild.etaSeconds === null ? '' : ` eta ${r.rebuild.etaSeconds}s`;
    return `${r.rebuild.percent}% of ${formatBytes(r.rebuild.bytesTotal)} at ${formatBytes(r.rebuild.rate)}/s${eta}`;
  }
  if (r.lastRebuild) return `last: ${r.lastRebuild.outcome}, copied ${formatBytes(r.lastRebuild.bytesCopied)} in ${r.lastRebuild.seconds.toFixed(1)}s`;
  return '-';
}

/** "retry in 12s (3 tried): NO_SPACE: pool p is full" for a replica being brought back, else "-". */
export function retryText(r: ReplicaDoc, now = Date.now()): string {
  if (!r.lastError && !r.retryAt) return '-';
  const when = r.retryAt ? `retry in ${Math.max(0, Math.ceil((Date.parse(r.retryAt) - now) / 1000))}s` : 'retrying';
  const tried = r.retryAttempts ? ` (${r.retryAttempts} tried)` : '';
  return `${when}${tried}${r.lastError ? `: ${r.lastError}` : ''}`;
}

export const replicaColumns: Column<ReplicaDoc>[] = [
  { header: 'REPLICA', value: (r) => r.name },
  { header: 'LOCAL', value: (r) => (r.local ? 'yes' : 'no') },
  { header: 'STATE', value: (r) => (r.state === 'rebuilding' && r.rebuild ? `rebuilding ${r.rebuild.percent}%` : r.state) },
  { header: 'MISSING', value: (r) => formatBytes(r.missingBytes) },
  { header: 'REBUILD', value: rebuildText },
  { header: 'RETRY', value: (r) => retryText(r) },
];

export const nexusColumns: Column<NexusDoc>[] = [
  { header: 'NAME', value: (n) => n.name },
  { header: 'STATE', value: (n) => n.state },
  { header: 'GEN', value: (n) => n.generation },
  { header: 'SIZE', value: (n) => formatBytes(n.sizeBytes) },
  { header: 'REPLICAS', value: (n) => `${n.replicas.filter((r) => r.state === 'online').length}/${n.replicas.length} online` },
  { header: 'EXPORT', value: (n) => n.export?.url ?? '-' },
];

export function printNexus(format: OutputFormat, n: NexusDoc): void {
  printObject(format, n, [
    ['name', n.name], ['uuid', n.uuid], ['state', n.reason ? `${n.state} (${n.reason})` : n.state], ['generation', n.generation],
    ['size', `${formatBytes(n.sizeBytes)} (${n.sizeBytes} bytes)`], ['block size', n.blockSize], ['type', n.thin ? 'thin' : 'thick'],
    ['rebuild throttle', throttleText(n)],
    ['export', n.export ? `${n.export.url} (target ${n.export.targetIqn}, LUN ${n.export.lun})` : '-'],
  ]);
  if (format === 'table') printRows(format, n, n.replicas, replicaColumns);
}
