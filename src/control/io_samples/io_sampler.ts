/**
 * Samples the I/O counters of the volumes someone is looking at: each tick it reads the
 * /metrics of the engines serving the watched volumes (one read per engine), keeps a
 * short ring per volume (io_ring.ts) and serves rates from it. A volume is watched for
 * a while after each read of its series, so an idle control plane scrapes nothing and
 * an open dashboard page keeps its chart fed. The timer lives in main.
 */
import type { ServiceContext } from '../service/service_context.ts';
import { readRecord, replicaKey, splitPoolId, volumeKey, type StoredReplica, type StoredVolume } from '../service/service_records.ts';
import { NEXUS_EXPORT_POOL } from '../service/nexus_acts.ts';
import { parseIoCounters } from './io_counters.ts';
import { IoRing, type IoPoint } from './io_ring.ts';
import { engineGetText } from './engine_http.ts';

export interface IoExport {
  readonly nodeId: string;
  readonly pool: string;
  readonly volume: string;
}

export interface IoSeries {
  readonly volumeId: string;
  readonly intervalMs: number;
  readonly windowSeconds: number;
  /** Where the counters come from: the nexus export, or a single replica's own export; null when not published. */
  readonly export: IoExport | null;
  /** Why there are no points yet, when there are none. */
  readonly note?: string;
  readonly points: readonly IoPoint[];
}

export interface IoSamplerOptions {
  readonly ctx: ServiceContext;
  /** GET an engine's /metrics text (with the cluster token). */
  readonly fetchMetrics: (endpoint: string) => Promise<string>;
  readonly intervalMs?: number;
  /** Samples kept per volume (default 150: five minutes at 2 s). */
  readonly capacity?: number;
  /** A volume stays watched this long after its series was last read (default 10 minutes). */
  readonly watchMs?: number;
}

interface Watched {
  untilMs: number;
  ring: IoRing;
  exportKey: string | undefined;
  lastError?: string;
}

export class IoSampler {
  readonly intervalMs: number;
  readonly #o: IoSamplerOptions;
  readonly #capacity: number;
  readonly #watchMs: number;
  readonly #watched = new Map<string, Watched>();
  readonly #exports = new Map<string, IoExport | null>();

  constructor(o: IoSamplerOptions) {
    this.#o = o;
    this.intervalMs = o.intervalMs ?? 2000;
    this.#capacity = o.capacity ?? 150;
    this.#watchMs = o.watchMs ?? 600_000;
  }

  /** The volume's series so far; starts (or prolongs) watching it. */
  async series(volumeId: string): Promise<IoSeries> {
    const now = this.#o.ctx.now();
    let w = this.#watched.get(volumeId);
    if (w === undefined) this.#watched.set(volumeId, w = { untilMs: 0, ring: new IoRing(this.#capacity), exportKey: undefined });
    w.untilMs = now + this.#watchMs;
    const ex = this.#exports.get(volumeId) ?? await this.#exportOf(volumeId);
    const points = w.ring.points();
    const base = { volumeId, intervalMs: this.intervalMs, windowSeconds: Math.round((this.#capacity * this.intervalMs) / 1000), export: ex, points };
    if (points.length > 0) return base;
    const note = ex === null ? 'the volume is not published: no export counts its I/O'
      : w.lastError ?? `sampling every ${this.intervalMs / 1000} s since this volume was first looked at; rates appear after two samples`;
    return { ...base, note };
  }

  /** One round: every watched volume's export sampled, one /metrics read per engine. */
  async tick(): Promise<void> {
    const ctx = this.#o.ctx;
    const now = ctx.now();
    const byNode = new Map<string, { id: string; w: Watched; ex: IoExport }[]>();
    for (const [id, w] of this.#watched) {
      if (w.untilMs < now) {
        this.#watched.delete(id);
        this.#exports.delete(id);
        continue;
      }
      const ex = await this.#exportOf(id).catch(() => null);
      this.#exports.set(id, ex);
      const key = ex === null ? undefined : `${ex.nodeId}/${ex.pool}/${ex.volume}`;
      if (key !== w.exportKey) {
        w.ring.clear();
        w.exportKey = key;
      }
      if (ex === null) continue;
      const list = byNode.get(ex.nodeId) ?? [];
      list.push({ id, w, ex });
      byNode.set(ex.nodeId, list);
    }
    await Promise.all([...byNode].map(async ([nodeId, vols]) => {
      try {
        const endpoint = (await ctx.node(nodeId)).endpoint;
        const counters = parseIoCounters(await this.#o.fetchMetrics(endpoint));
        const at = ctx.now();
        for (const { w, ex } of vols) {
          const c = counters.get(`${ex.pool}/${ex.volume}`);
          if (c === undefined) {
            w.lastError = `engine ${nodeId} reports no counters for export ${ex.pool}/${ex.volume} (BERTH_IO_METRICS=0 turns counting off)`;
            continue;
          }
          w.lastError = undefined;
          w.ring.push({ atMs: at, counters: c });
        }
      } catch (err) {
        for (const { w } of vols) w.lastError = `cannot read the counters of engine ${nodeId}: ${(err as Error).message}`;
      }
    }));
  }

  async #exportOf(volumeId: string): Promise<IoExport | null> {
    const store = this.#o.ctx.store;
    const v = (await readRecord<StoredVolume>(store, volumeKey(volumeId)))?.record.spec;
    if (v == null || v.target === undefined) return null;
    if (v.nexus !== undefined) return { nodeId: v.nexus.nodeId, pool: NEXUS_EXPORT_POOL, volume: v.id };
    if (v.target.replicaId === undefined) return null;
    const r = (await readRecord<StoredReplica>(store, replicaKey(v.target.replicaId)))?.record.spec;
    if (r == null) return null;
    return { nodeId: r.nodeId, pool: splitPoolId(r.poolId).pool, volume: r.id };
  }
}

/** Reads an engine's /metrics over HTTP, with the token the control plane uses for engines. */
export function engineMetricsFetcher(authToken: string | undefined, timeoutMs = 5000): (endpoint: string) => Promise<string> {
  const get = engineGetText(authToken, timeoutMs);
  return (endpoint) => get(endpoint, '/metrics');
}
