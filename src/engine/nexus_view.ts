import type { ChildInfo, RebuildProgress } from '../nexus/index.ts';
import type { ReplicaRef } from './nexus_children.ts';
import type { RetryStatus } from './nexus_retry.ts';

/** How the last rebuild of a replica ended, kept for the API after the job is gone. */
export interface RebuildSummary {
  outcome: string;
  bytesDone: number;
  bytesTotal: number;
  bytesCopied: number;
  seconds: number;
  finishedAt: string;
}

export interface RebuildView {
  percent: number;
  bytesDone: number;
  bytesTotal: number;
  bytesCopied: number;
  /** Bytes per second since the start. */
  rate: number;
  etaSeconds: number | null;
}

export interface ReplicaView {
  name: string;
  node: string;
  pool: string;
  volume: string;
  local: boolean;
  /** online, rebuilding, stale or faulted (or absent when the nexus itself is faulted). */
  state: string;
  reason?: string;
  missingBytes: number;
  rebuild: RebuildView | null;
  lastRebuild: RebuildSummary | null;
  /** Why the last attempt to bring it back (reconnect or rebuild) failed; null when none failed. */
  lastError: string | null;
  /** When the next attempt starts (ISO time); null while one runs, or when none is due. */
  retryAt: string | null;
  /** Attempts to bring it back since it was last healthy. */
  retryAttempts: number;
  /** I/O the nexus sent to this child (CHILD_IO_KINDS order), for /metrics; not in the API's schema. */
  io?: { ops: Float64Array; bytes: Float64Array };
}

export interface NexusView {
  name: string;
  uuid: string;
  generation: number;
  /**
   * online, degraded, faulted, no-quorum (waiting for a majority of its replicas to
   * accept its generation; serves nothing), fenced (a newer generation owns the volume),
   * closed; `faulted` with a reason when it could not be opened.
   */
  state: string;
  reason?: string;
  sizeBytes: number;
  blockSize: number;
  thin: boolean;
  rebuildThrottleBytesPerSec: number;
  /** adaptive (rebuilds yield to foreground I/O) or fixed (only the byte cap applies); see docs/nexus.md. */
  rebuildThrottleMode: string;
  replicas: ReplicaView[];
}

export function rebuildView(p: RebuildProgress): RebuildView {
  return {
    percent: p.bytesTotal === 0 ? 100 : Math.floor((p.bytesDone / p.bytesTotal) * 1000) / 10,
    bytesDone: p.bytesDone,
    bytesTotal: p.bytesTotal,
    bytesCopied: p.bytesCopied,
    rate: Math.round(p.rate),
    etaSeconds: p.etaSeconds === undefined ? null : Math.ceil(p.etaSeconds),
  };
}

export function replicaView(ref: ReplicaRef, local: boolean, info: ChildInfo | undefined, last: RebuildSummary | undefined, retry?: RetryStatus): ReplicaView {
  return {
    name: `${ref.node}/${ref.pool}/${ref.volume}`,
    node: ref.node,
    pool: ref.pool,
    volume: ref.volume,
    local,
    state: info?.state ?? 'absent',
    ...(info?.reason ? { reason: info.reason } : {}),
    missingBytes: info?.missingBytes ?? 0,
    rebuild: info?.rebuild ? rebuildView(info.rebuild) : null,
    lastRebuild: last ?? null,
    lastError: retry?.lastError ?? null,
    retryAt: retry?.retryAt !== undefined ? new Date(retry.retryAt).toISOString() : null,
    retryAttempts: retry?.attempts ?? 0,
    ...(info ? { io: { ops: info.ioOps, bytes: info.ioBytes } } : {}),
  };
}
