import type { Engine } from '../engine.ts';
import type { Family as MetricFamily } from '../../util/prom_registry.ts';
import { ioMetricFamilies } from './io_metrics.ts';
import { nexusMetricFamilies } from './nexus_metrics.ts';

const POOL_CONDITIONS = ['ok', 'full', 'hostFull', 'syncFailed'] as const;

/** Counts API requests by method and status class; the only state metrics keep. */
export class RequestCounter {
  readonly #counts = new Map<string, number>();

  observe(method: string, status: number): void {
    const key = `${method} ${status}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  family(): MetricFamily {
    return {
      name: 'berth_api_requests_total',
      help: 'Engine API requests answered, by method and HTTP status.',
      type: 'counter',
      samples: [...this.#counts].map(([k, value]) => {
        const [method, status] = k.split(' ');
        return { labels: { method, status }, value };
      }),
    };
  }
}

/** Gauges read from the engine at scrape time: pools, volumes, exports, sessions. */
export async function collectEngineMetrics(engine: Engine, requests: RequestCounter): Promise<MetricFamily[]> {
  const gauge = (name: string, help: string): MetricFamily => ({ name, help, type: 'gauge', samples: [] });
  const up = gauge('berth_pool_online', '1 when the pool is imported, 0 when faulted.');
  const cap = gauge('berth_pool_capacity_bytes', 'Bytes the pool can hold.');
  const used = gauge('berth_pool_used_bytes', 'Bytes of the pool allocated to volumes.');
  const free = gauge('berth_pool_free_bytes', 'Bytes of the pool still free.');
  const thinProv = gauge('berth_pool_thin_provisioned_bytes', 'Sum of the sizes of the volumes in the pool (what thin provisioning promised).');
  const vols = gauge('berth_pool_volumes', 'Volumes in the pool.');
  const cond = gauge('berth_pool_condition', '1 for the condition an online pool is in (ok, full: no free extents, hostFull: the filesystem below the pool file is out of space, syncFailed: an fdatasync of the pool file failed, flushes fail until it is imported again), 0 for the others.');
  const backed = gauge('berth_pool_backed_bytes', 'Bytes of a pool file the host filesystem has allocated.');
  const hostAvail = gauge('berth_pool_host_available_bytes', 'Bytes still free on the filesystem that holds a pool file (what a sparse pool file can still grow by).');
  const vsize = gauge('berth_volume_size_bytes', 'Size of the volume.');
  const valloc = gauge('berth_volume_allocated_bytes', 'Bytes of the volume backed by pool space.');
  const sexcl = gauge('berth_snapshot_exclusive_bytes', 'Bytes only this snapshot holds (what deleting it would free); the rest it shares.');
  for (const p of engine.listPools()) {
    const labels = { pool: p.name };
    up.samples.push({ labels, value: p.state === 'online' ? 1 : 0 });
    if (p.state !== 'online') continue;
    cap.samples.push({ labels, value: p.capacityBytes });
    used.samples.push({ labels, value: p.usedBytes });
    free.samples.push({ labels, value: p.freeBytes });
    thinProv.samples.push({ labels, value: p.thinProvisionedBytes });
    vols.samples.push({ labels, value: p.volumeCount });
    for (const c of POOL_CONDITIONS) cond.samples.push({ labels: { pool: p.name, condition: c }, value: p.condition === c ? 1 : 0 });
    if (p.backedBytes !== undefined) backed.samples.push({ labels, value: p.backedBytes });
    if (p.hostAvailableBytes !== undefined) hostAvail.samples.push({ labels, value: p.hostAvailableBytes });
    for (const v of await engine.listVolumes(p.name)) {
      const vl = { pool: p.name, volume: v.name };
      vsize.samples.push({ labels: vl, value: v.sizeBytes });
      valloc.samples.push({ labels: vl, value: v.allocatedBytes });
    }
    for (const s of engine.importedPool(p.name).listSnapshots()) {
      sexcl.samples.push({ labels: { pool: p.name, snapshot: s.name }, value: s.exclusiveBytes });
    }
  }
  const exportsG = gauge('berth_exports', 'Volumes exported over iSCSI.');
  exportsG.samples.push({ value: engine.exportCount() });
  const sessions = gauge('berth_iscsi_sessions', 'Logged-in iSCSI sessions, by target.');
  const byTarget = new Map<string, number>();
  for (const s of engine.sessions()) byTarget.set(s.targetIqn, (byTarget.get(s.targetIqn) ?? 0) + 1);
  for (const t of engine.listTargets()) sessions.samples.push({ labels: { target: t.iqn }, value: byTarget.get(t.iqn) ?? 0 });
  const locals = gauge('berth_local_attaches', 'Exports served to this node over FUSE (docs/local-attach.md).');
  const localErrors: MetricFamily = { name: 'berth_local_attach_errors_total', help: 'Requests of a local attach answered with an error, by errno.', type: 'counter', samples: [] };
  const attached = engine.listLocalAttaches();
  locals.samples.push({ value: attached.length });
  for (const l of attached) {
    for (const [errno, n] of Object.entries(l.errors)) localErrors.samples.push({ labels: { pool: l.pool, volume: l.volume, errno }, value: n });
  }
  const mem = gauge('berth_process_resident_memory_bytes', 'Resident set size of the engine process.');
  mem.samples.push({ value: process.memoryUsage.rss() });
  return [up, cap, used, free, thinProv, vols, cond, backed, hostAvail, vsize, valloc, sexcl, exportsG, sessions, locals, localErrors, mem, ...nexusMetricFamilies(engine.nexuses.list()), ...ioMetricFamilies(engine.exportIoStats()), requests.family()];
}
