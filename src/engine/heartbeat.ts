import type { Logger } from '../util/log.ts';
import type { Engine } from './engine.ts';
import type { PoolView } from './engine_types.ts';
import type { PoolCondition } from '../pool/pool_condition.ts';

/**
 * The engine's side of registration: every interval it tells the control plane who it
 * is and what its pools hold. The body follows the control plane's heartbeat format
 * (src/control/registry/registry_heartbeat.ts; a control-plane test parses what this
 * builds), restated here because the data plane does not import the control plane.
 * It goes to every control-plane URL given, so followers stay warm for a takeover.
 */
export interface HeartbeatOptions {
  readonly engine: Engine;
  /** Control-plane base URLs (http://host:port). */
  readonly controlPlanes: readonly string[];
  readonly nodeId: string;
  /** The engine API address (host:port) the control plane calls back on. */
  readonly endpoint: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly engineVersion: string;
  readonly intervalMs?: number;
  readonly logger: Logger;
  /** Sent as `Authorization: Bearer …` when the control plane demands it (docs/security.md). */
  readonly authToken?: string;
}

export interface HeartbeatBody {
  nodeId: string;
  endpoint: string;
  zone: string;
  storageGroup: string;
  labels: Record<string, string>;
  engineVersion: string;
  pools: {
    id: string; media: 'hdd' | 'ssd'; tags: string[]; status: 'online' | 'degraded' | 'faulted';
    capacityBytes: number; usedBytes: number; committedBytes: number; replicaCount: number;
  }[];
}

/** Three beats fit in the control plane's default 15 s deadline. */
export const HEARTBEAT_INTERVAL_MS = 5000;
const REQUEST_TIMEOUT_MS = 3000;

/**
 * Labels with a meaning: `zone` (or topology.kubernetes.io/zone), `storageGroup` (or
 * berth.io/storage-group), `media` (hdd|ssd, for every pool of the node; default ssd),
 * `poolTags` (tags for every pool, separated by '+'). All labels are passed on.
 */
export function buildHeartbeat(o: Pick<HeartbeatOptions, 'nodeId' | 'endpoint' | 'labels' | 'engineVersion'>, pools: readonly PoolView[]): HeartbeatBody {
  const l = o.labels;
  const media = l.media === 'hdd' ? 'hdd' : 'ssd';
  const tags = (l.poolTags ?? '').split('+').filter((t) => t.length > 0);
  return {
    nodeId: o.nodeId,
    endpoint: o.endpoint,
    zone: l.zone ?? l['topology.kubernetes.io/zone'] ?? 'default',
    storageGroup: l.storageGroup ?? l['berth.io/storage-group'] ?? 'default',
    labels: { ...l },
    engineVersion: o.engineVersion,
    pools: pools.map((p) => p.state === 'online'
      ? {
        id: `${o.nodeId}:${p.name}`, media, tags, status: onlineStatus(p.condition), capacityBytes: p.capacityBytes,
        usedBytes: p.usedBytes, committedBytes: p.thinProvisionedBytes, replicaCount: p.volumeCount,
      }
      : { id: `${o.nodeId}:${p.name}`, media, tags, status: 'faulted' as const, capacityBytes: 0, usedBytes: 0, committedBytes: 0, replicaCount: 0 }),
  };
}

/**
 * An imported pool that cannot take new data is `degraded` to the control plane, whose
 * placement then puts no new replica there: one with no free extent left (`full`), one
 * whose host filesystem refused blocks (`hostFull`), one whose fdatasync failed
 * (`syncFailed`). It keeps serving the replicas it has.
 */
function onlineStatus(condition: PoolCondition): 'online' | 'degraded' {
  return condition === 'ok' ? 'online' : 'degraded';
}

/** Starts beating at once, then every interval; returns the function that stops it. */
export function startHeartbeat(o: HeartbeatOptions): () => void {
  const log = o.logger.child({ component: 'heartbeat' });
  const failing = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.authToken !== undefined) headers.authorization = `Bearer ${o.authToken}`;
  const beat = async (): Promise<void> => {
    const body = JSON.stringify(buildHeartbeat(o, o.engine.listPools()));
    await Promise.all(o.controlPlanes.map(async (url) => {
      try {
        const res = await fetch(`${url.replace(/\/+$/, '')}/v1/heartbeats`, {
          method: 'POST', headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        await res.text();
        if (!res.ok) throw new Error(`status ${res.status}`);
        if (failing.delete(url)) log.info({ controlPlane: url }, 'heartbeat accepted again');
      } catch (err) {
        // Log a failing control plane once, not every beat.
        if (!failing.has(url)) log.warn({ controlPlane: url, reason: (err as Error).message }, 'heartbeat failed');
        failing.add(url);
      }
    }));
  };
  const loop = (): void => {
    beat().finally(() => {
      if (!stopped) timer = setTimeout(loop, o.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    });
  };
  loop();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}
