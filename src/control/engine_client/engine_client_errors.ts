import { BerthError } from '../../util/errors.ts';

/**
 * Errors of the engine client. An engine that answered keeps its own stable code (for
 * example `NO_SPACE` or `VOLUME_EXISTS`), so the service and the REST API see the same
 * codes the engine documents; only failures to get an answer get codes of their own.
 */

/** The engine answered with {error:{code,message}}; `code` is the engine's own. */
export class EngineRequestError extends BerthError {
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** No answer: connection refused, reset, or DNS failure. The request surely did nothing, or may have. */
export class EngineUnreachableError extends BerthError {
  constructor(endpoint: string, options?: { cause?: unknown }) {
    super('ENGINE_UNREACHABLE', `engine ${endpoint} is unreachable`, options);
  }
}

/** No answer within the timeout; a write may still have happened, so callers re-read. */
export class EngineTimeoutError extends BerthError {
  constructor(endpoint: string, ms: number) {
    super('ENGINE_TIMEOUT', `engine ${endpoint} did not answer within ${ms} ms`);
  }
}

/** The engine does not offer this operation yet (the nexus is not wired into it). */
export class NotImplementedError extends BerthError {
  constructor(what: string) {
    super('NOT_IMPLEMENTED', `${what} is not implemented by this engine yet`);
  }
}

/** True when the failure says nothing about whether the engine acted: retry later. */
export function isTransient(err: unknown): boolean {
  return err instanceof EngineUnreachableError || err instanceof EngineTimeoutError ||
    (err instanceof EngineRequestError && err.status === 503);
}
