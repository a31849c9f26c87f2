/**
 * Which events a reader asked for (GET /v1/events, `berth events`): by involved id, by
 * object kind, by type, since a time; newest first, in pages whose cursor is the last
 * event's id. Pure.
 */
import { EVENT_TYPES, type ControlEvent, type EventType, type ObjectKind } from './event_types.ts';
import { InvalidArgumentError } from '../service/service_errors.ts';

export const DEFAULT_EVENT_PAGE = 100;
export const MAX_EVENT_PAGE = 1000;
const KINDS = ['node', 'pool', 'volume', 'snapshot'];
const ID_FILTERS = ['volume', 'node', 'pool', 'snapshot'] as const;

export interface EventQuery {
  readonly volume?: string;
  readonly node?: string;
  readonly pool?: string;
  readonly snapshot?: string;
  readonly kind?: ObjectKind;
  readonly types?: readonly EventType[];
  readonly sinceMs?: number;
  /** Only events older than this id (the previous page's `next`). */
  readonly before?: string;
  readonly limit: number;
}

export interface EventPage {
  readonly events: readonly ControlEvent[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  readonly next?: string;
}

/** Reads the query string; InvalidArgumentError names the parameter that is wrong. */
export function parseEventQuery(raw: Readonly<Record<string, unknown>>): EventQuery {
  const str = (k: string): string | undefined => {
    const v = raw[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new InvalidArgumentError(`${k} must be a string of 1–256 characters`);
    return v;
  };
  const q: { -readonly [K in keyof EventQuery]: EventQuery[K] } = { limit: DEFAULT_EVENT_PAGE };
  for (const k of ID_FILTERS) {
    const v = str(k);
    if (v !== undefined) q[k] = v;
  }
  const kind = str('kind');
  if (kind !== undefined) {
    if (!KINDS.includes(kind)) throw new InvalidArgumentError(`kind must be one of ${KINDS.join(', ')}`);
    q.kind = kind as ObjectKind;
  }
  const type = str('type');
  if (type !== undefined) {
    const types = type.split(',');
    const bad = types.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
    if (bad.length > 0) throw new InvalidArgumentError(`type: unknown ${bad.map((t) => JSON.stringify(t.slice(0, 40))).join(', ')}; known: ${EVENT_TYPES.join(', ')}`);
    q.types = types as EventType[];
  }
  const since = str('since');
  if (since !== undefined) q.sinceMs = parseSince(since);
  const before = str('before');
  if (before !== undefined) q.before = before;
  const limit = str('limit');
  if (limit !== undefined) {
    const n = /^\d{1,6}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= MAX_EVENT_PAGE)) throw new InvalidArgumentError(`limit must be a whole number from 1 to ${MAX_EVENT_PAGE}`);
    q.limit = n;
  }
  return q;
}

/** Milliseconds since the epoch, or an ISO 8601 time with a zone. */
function parseSince(v: string): number {
  if (/^\d{1,15}$/.test(v)) return Number(v);
  const ms = /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('since must be milliseconds since the epoch or an ISO 8601 time such as 2026-12-06T22:00:00Z');
  return ms;
}

export function eventMatches(e: ControlEvent, q: EventQuery): boolean {
  if (q.volume !== undefined && e.involved.volumeId !== q.volume) return false;
  if (q.node !== undefined && e.involved.nodeId !== q.node) return false;
  if (q.pool !== undefined && e.involved.poolId !== q.pool) return false;
  if (q.snapshot !== undefined && e.involved.snapshotId !== q.snapshot) return false;
  if (q.kind !== undefined && e.object.kind !== q.kind) return false;
  if (q.types !== undefined && !q.types.includes(e.type)) return false;
  if (q.sinceMs !== undefined && e.atMs < q.sinceMs) return false;
  return q.before === undefined || e.id < q.before;
}

/** `all` in id (= time) order, oldest first, as the store lists them. */
export function selectEvents(all: readonly ControlEvent[], q: EventQuery): EventPage {
  const events: ControlEvent[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    if (!eventMatches(all[i], q)) continue;
    if (events.length === q.limit) return { events, next: events[events.length - 1].id };
    events.push(all[i]);
  }
  return { events };
}
