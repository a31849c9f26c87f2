import type { FastifyInstance } from 'fastify';
import type { Logger } from './log.ts';
import { TokenVerifier, UNAUTHENTICATED, parseBearer } from './auth_token.ts';

/** What an API server needs to demand a bearer token. */
export interface BearerAuthOptions {
  readonly tokens: readonly string[];
  /** Route patterns (as registered) that stay open: the probes' health endpoint. */
  readonly openRoutes: readonly string[];
}

/** One warning per window at most; the next one says how many were held back. */
export const FAILURE_LOG_WINDOW_MS = 10_000;

/**
 * Lets one failure log line through per window and counts the rest, so a flood of bad
 * requests costs a line every few seconds, not a line each.
 */
export class FailureLogLimiter {
  readonly #windowMs: number;
  #openedAt = -Infinity;
  #held = 0;

  constructor(windowMs = FAILURE_LOG_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  /** Undefined: stay quiet. A number: log now, with that many failures held back since the last line. */
  admit(nowMs: number): number | undefined {
    if (nowMs - this.#openedAt < this.#windowMs) {
      this.#held++;
      return undefined;
    }
    this.#openedAt = nowMs;
    const held = this.#held;
    this.#held = 0;
    return held;
  }
}

/**
 * Registers the check on every request before its body is read. Open routes are
 * matched on the route pattern Fastify resolved, not on the raw URL, so a query string
 * or an odd spelling of a path cannot reach a closed route. Unknown routes are closed
 * too: without a token nobody learns which routes exist.
 */
export function installBearerAuth(app: FastifyInstance, o: BearerAuthOptions, logger: Logger): void {
  const verifier = new TokenVerifier(o.tokens);
  const open = new Set(o.openRoutes);
  const limiter = new FailureLogLimiter();
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route !== undefined && open.has(route) && (req.method === 'GET' || req.method === 'HEAD')) return;
    if (verifier.verify(parseBearer(req.headers.authorization))) return;
    const held = limiter.admit(Date.now());
    // The remote address only: the header may be a token meant for another system.
    if (held !== undefined) logger.warn({ remote: req.ip, failuresNotLogged: held }, 'api request refused: missing or wrong bearer token');
    return reply.code(401).header('www-authenticate', 'Bearer realm="berth"').send({
      error: { code: UNAUTHENTICATED, message: 'this API needs an Authorization: Bearer token (see docs/security.md)' },
    });
  });
}
