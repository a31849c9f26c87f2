import { BerthError } from '../../util/errors.ts';
import { NotLeaderError } from '../service/service_errors.ts';

/**
 * The one place where control-plane error codes become HTTP statuses. Services,
 * reconcilers and the engine client throw BerthErrors with stable codes and know
 * nothing of HTTP. Codes the engine returned pass through unchanged (NO_SPACE stays
 * NO_SPACE), so clients match on the same code whichever layer refused.
 */
const STATUS_BY_CODE: Record<string, number> = {
  BAD_REQUEST: 400,
  INVALID_ARGUMENT: 400,
  INVALID_HEARTBEAT: 400,
  PLACEMENT_INVALID_REQUEST: 400,
  OPERATION_IN_PROGRESS: 409,
  VOLUME_PUBLISHED: 409,
  CHAP_CONFLICT: 409,
  VOLUME_NOT_READY: 409,
  VOLUME_EXPORTED: 409,
  POOL_NOT_EMPTY: 409,
  POOL_FAULTED: 409,
  REPLICA_MISMATCH: 409,
  STORE_CONFLICT: 409,
  // Snapshots (docs/api.md): a pause held by another snapshot, a delta across volumes.
  NEXUS_PAUSE_BUSY: 409,
  SNAPSHOTS_NOT_COMPARABLE: 409,
  SNAPSHOT_BARRIER_LOST: 503,
  PLACEMENT_FAILED: 422,
  SHRINK_NOT_SUPPORTED: 422,
  NOT_IMPLEMENTED: 501,
  ENGINE_UNREACHABLE: 502,
  ENGINE_BAD_RESPONSE: 502,
  ENGINE_ERROR: 502,
  // The engine refused our token: a cluster misconfiguration, not the caller's fault.
  ENGINE_AUTH_FAILED: 502,
  NOT_LEADER: 503,
  NODE_OFFLINE: 503,
  STORE_UNAVAILABLE: 503,
  STORE_FENCED: 503,
  ENGINE_CLOSED: 503,
  ENGINE_TIMEOUT: 504,
  NO_SPACE: 507,
  TOO_MANY_VOLUMES: 507,
};

export function statusForCode(code: string): number {
  const exact = STATUS_BY_CODE[code];
  if (exact !== undefined) return exact;
  if (code.endsWith('_NOT_FOUND')) return 404;
  if (code.endsWith('_EXISTS')) return 409;
  if (code.startsWith('INVALID_')) return 400;
  return 500;
}

/** Header naming the leader on a follower's NOT_LEADER answer. */
export const LEADER_HEADER = 'x-berth-leader';

export interface ErrorBody {
  error: { code: string; message: string; leader?: string };
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Anything a handler throws, as a status, a body safe to show, and headers. */
export function httpError(err: unknown): HttpError {
  if (err instanceof NotLeaderError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.leader !== undefined) body.error.leader = err.leader;
    return { status: 503, body, headers: err.leader !== undefined ? { [LEADER_HEADER]: err.leader, 'retry-after': '1' } : { 'retry-after': '1' } };
  }
  if (err instanceof BerthError) {
    return { status: statusForCode(err.code), body: { error: { code: err.code, message: err.message } }, headers: {} };
  }
  const e = err as { statusCode?: unknown; validation?: unknown; message?: unknown };
  if (e && e.validation !== undefined) {
    return { status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: String(e.message) } }, headers: {} };
  }
  // Fastify's own request errors (bad JSON, wrong content type, body too large) carry a 4xx.
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 413 ? 'BODY_TOO_LARGE' : e.statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST';
    return { status: e.statusCode, body: { error: { code, message: String(e.message) } }, headers: {} };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; see the control-plane log' } }, headers: {} };
}
