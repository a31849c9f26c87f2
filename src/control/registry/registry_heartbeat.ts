import { BerthError } from '../../util/errors.ts';
import { PoolStatus } from '../model/pool_spec.ts';

/** What an engine sends every heartbeat interval: who it is and what its pools hold. */
export interface Heartbeat {
  readonly nodeId: string;
  /** The engine API address (host:port) the control plane calls back on. */
  readonly endpoint: string;
  readonly zone: string;
  readonly storageGroup: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly engineVersion: string;
  readonly pools: readonly PoolReport[];
}

export interface PoolReport {
  readonly id: string;
  readonly media: 'hdd' | 'ssd';
  readonly tags: readonly string[];
  readonly status: PoolStatus;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly committedBytes: number;
  readonly replicaCount: number;
}

/** A heartbeat that is not well formed; the engine gets this code back, nothing changes. */
export class InvalidHeartbeatError extends BerthError {
  constructor(message: string) {
    super('INVALID_HEARTBEAT', message);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$/;
const POOL_STATUSES = new Set<string>(Object.values(PoolStatus));
const MAX_POOLS = 256;
const MAX_LABELS = 64;

/** Checks a decoded heartbeat from the wire; returns it typed or throws InvalidHeartbeatError. */
export function parseHeartbeat(input: unknown): Heartbeat {
  const o = record(input, 'heartbeat');
  const labels = record(o.labels ?? {}, 'labels');
  if (Object.keys(labels).length > MAX_LABELS) throw new InvalidHeartbeatError(`more than ${MAX_LABELS} labels`);
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string' || k.length > 253 || v.length > 253) throw new InvalidHeartbeatError(`label ${k.slice(0, 64)} is not a short string`);
  }
  if (!Array.isArray(o.pools)) throw new InvalidHeartbeatError('pools must be an array');
  if (o.pools.length > MAX_POOLS) throw new InvalidHeartbeatError(`more than ${MAX_POOLS} pools`);
  const pools = o.pools.map((p, i) => parsePool(p, i));
  if (new Set(pools.map((p) => p.id)).size !== pools.length) throw new InvalidHeartbeatError('pool ids repeat');
  return {
    nodeId: name(o.nodeId, 'nodeId'),
    endpoint: name(o.endpoint, 'endpoint'),
    zone: name(o.zone, 'zone'),
    storageGroup: name(o.storageGroup, 'storageGroup'),
    labels: labels as Record<string, string>,
    engineVersion: typeof o.engineVersion === 'string' ? o.engineVersion.slice(0, 64) : '',
    pools,
  };
}

function parsePool(input: unknown, i: number): PoolReport {
  const p = record(input, `pools[${i}]`);
  if (p.media !== 'hdd' && p.media !== 'ssd') throw new InvalidHeartbeatError(`pools[${i}].media must be hdd or ssd`);
  if (typeof p.status !== 'string' || !POOL_STATUSES.has(p.status)) throw new InvalidHeartbeatError(`pools[${i}].status is not a pool status`);
  const tags = p.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && NAME.test(t))) {
    throw new InvalidHeartbeatError(`pools[${i}].tags must be names`);
  }
  const capacityBytes = bytes(p.capacityBytes, `pools[${i}].capacityBytes`);
  return {
    id: name(p.id, `pools[${i}].id`),
    media: p.media,
    tags: tags as string[],
    status: p.status as PoolStatus,
    capacityBytes,
    usedBytes: bytes(p.usedBytes, `pools[${i}].usedBytes`),
    committedBytes: bytes(p.committedBytes, `pools[${i}].committedBytes`),
    replicaCount: bytes(p.replicaCount, `pools[${i}].replicaCount`),
  };
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidHeartbeatError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function name(v: unknown, what: string): string {
  if (typeof v !== 'string' || !NAME.test(v)) throw new InvalidHeartbeatError(`${what} must be a name (letters, digits, . _ : / -)`);
  return v;
}

function bytes(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new InvalidHeartbeatError(`${what} must be a non-negative integer`);
  return v as number;
}
