import { BerthError } from '../../util/errors.ts';

/**
 * The one place where Berth's error codes become HTTP statuses. Engine and pool code
 * throw BerthErrors with stable codes and know nothing of HTTP; clients match on the
 * code in the body ({error:{code,message}}), the status is for proxies and humans.
 */
const STATUS_BY_CODE: Record<string, number> = {
  BAD_REQUEST: 400,
  INVALID_ARGUMENT: 400,
  INVALID_SIZE: 400,
  NO_SPACE: 507,
  TOO_MANY_VOLUMES: 507,
  SHRINK_NOT_SUPPORTED: 422,
  POOL_CORRUPT: 422,
  POOL_VERSION: 422,
  POOL_NOT_EMPTY: 409,
  // Ownership and safe create (docs/pool-format.md "Ownership"; docs/api.md).
  POOL_IN_USE: 409,
  POOL_DEVICE_NOT_EMPTY: 409,
  POOL_PATH_NOT_ALLOWED: 403,
  POOL_FAULTED: 409,
  VOLUME_EXPORTED: 409,
  EXPORT_FAULTED: 409,
  LOCAL_ATTACH_DISABLED: 403,
  LOCAL_ATTACH_IN_USE: 409,
  LOCAL_ATTACH_EXHAUSTED: 503,
  TARGET_FULL: 409,
  ENGINE_CLOSED: 503,
  POOL_CLOSED: 503,
  STATE_CORRUPT: 500,
  // Replicated volumes: the replica or nexus is in a state that refuses the request.
  STALE_GENERATION: 409,
  NEXUS_FENCED: 409,
  NEXUS_FAULTED: 409,
  NEXUS_NO_QUORUM: 409,
  NEXUS_UNAVAILABLE: 409,
  NEXUS_CHILD_INVALID: 409,
  // The snapshot barrier (routes_snapshot_barrier.ts): another pause holds the nexus, or the lease ran out.
  NEXUS_PAUSE_BUSY: 409,
  NEXUS_PAUSE_LOST: 409,
  NOT_IMPLEMENTED: 501,
  VOLUME_IN_USE: 409,
  DEVICE_GONE: 503,
  REPLICA_TIMEOUT: 504,
  REPLICA_VERSION_MISMATCH: 502,
};

/** Errors from the file system that reach us unwrapped (a pool path the user gave). */
const ERRNO: Record<string, { status: number; code: string }> = {
  ENOENT: { status: 404, code: 'PATH_NOT_FOUND' },
  ENOTDIR: { status: 404, code: 'PATH_NOT_FOUND' },
  EEXIST: { status: 409, code: 'PATH_EXISTS' },
  EACCES: { status: 403, code: 'PERMISSION_DENIED' },
  EPERM: { status: 403, code: 'PERMISSION_DENIED' },
  EROFS: { status: 403, code: 'PERMISSION_DENIED' },
  ENOSPC: { status: 507, code: 'NO_SPACE' },
  EISDIR: { status: 400, code: 'INVALID_ARGUMENT' },
};

export function statusForCode(code: string): number {
  const exact = STATUS_BY_CODE[code];
  if (exact !== undefined) return exact;
  if (code.endsWith('_NOT_FOUND')) return 404;
  if (code.endsWith('_EXISTS')) return 409;
  if (code.startsWith('INVALID_')) return 400;
  return 500;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** Translates anything thrown by a handler into a status and a body safe to show. */
export function httpError(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof BerthError) {
    return { status: statusForCode(err.code), body: { error: { code: err.code, message: err.message } } };
  }
  const e = err as { code?: unknown; statusCode?: unknown; validation?: unknown; message?: unknown };
  if (e && e.validation !== undefined) {
    return { status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: String(e.message) } } };
  }
  // Fastify's own request errors (bad JSON, wrong content type, body too large) carry a 4xx.
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 413 ? 'BODY_TOO_LARGE' : e.statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST';
    return { status: e.statusCode, body: { error: { code, message: String(e.message) } } };
  }
  if (e && typeof e.code === 'string' && ERRNO[e.code]) {
    const m = ERRNO[e.code];
    return { status: m.status, body: { error: { code: m.code, message: String(e.message) } } };
  }
  // Unknown failures may carry internals; the log has the details, the client a code.
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; see the engine log' } } };
}
