import type { FastifyBaseLogger } from 'fastify';

/**
 * How an API logs a request that ended in an error, from its HTTP status. Only a failure
 * nobody expected (500) is an error, with its stack. A refusal with a stable code is an
 * answer to the client, not a fault of this process: NO_SPACE (507) is someone asking for
 * more than there is, a 4xx a mistake in the request. An unreachable or slow peer
 * (502, 503, 504) is worth a warning, without a stack; a follower's NOT_LEADER is routine.
 */
export function apiErrorLevel(status: number, code: string): 'error' | 'warn' | 'debug' {
  if (status === 500) return 'error';
  if (code === 'NOT_LEADER') return 'debug';
  if (status >= 502 && status <= 504) return 'warn';
  return 'debug';
}

export function logApiError(log: FastifyBaseLogger, err: unknown, status: number, code: string, message: string, req: { method: string; url: string }): void {
  const level = apiErrorLevel(status, code);
  if (level === 'error') log.error({ err, method: req.method, url: req.url }, 'api request failed');
  else if (level === 'warn') log.warn({ code, message, method: req.method, url: req.url }, 'api request failed');
  else log.debug({ code, message, method: req.method, url: req.url }, 'api request refused');
}
