import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../util/log.ts';
import type { Engine } from '../engine.ts';
import { httpError } from './http_errors.ts';
import { registerPoolRoutes } from './routes_pools.ts';
import { registerExportRoutes } from './routes_exports.ts';
import { registerNexusRoutes } from './routes_nexus.ts';
import { registerSnapshotRoutes } from './routes_snapshots.ts';
import { registerSnapshotBarrierRoutes } from './routes_snapshot_barrier.ts';
import { registerSnapshotBlockRoutes } from './routes_snapshot_blocks.ts';
import { collectOpenApi } from './openapi.ts';
import { collectEngineMetrics, RequestCounter } from './engine_metrics.ts';
import { ScrapeRegistry } from '../../util/prom_registry.ts';
import { errorResponses, healthSchema } from './api_schemas.ts';
import { installBearerAuth } from '../../util/http_auth.ts';
import { logApiError } from '../../util/api_error_log.ts';

export const API_VERSION = '0.1.0';
/** Probes call these without a token; /metrics is not among them (scrape with the token). */
export const ENGINE_OPEN_ROUTES = ['/v1/health'] as const;

export interface EngineApiAuth {
  /** Accepted bearer tokens (the token file's lines). */
  readonly tokens: readonly string[];
}
/** Requests are small JSON documents; anything larger is a mistake or an attack. */
const BODY_LIMIT = 64 * 1024;

/**
 * The engine's HTTP/JSON API. Handlers only translate: validate (schemas), call the
 * Engine, shape the reply. Errors become {error:{code,message}} in one handler.
 */
export async function buildApiServer(engine: Engine, logger: Logger, options: { auth?: EngineApiAuth } = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Requests are logged by the hook below at debug, without bodies (they may hold CHAP secrets).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  // Before any route: every request passes the bearer check first (docs/security.md).
  if (options.auth) installBearerAuth(app, { tokens: options.auth.tokens, openRoutes: ENGINE_OPEN_ROUTES }, logger);
  const started = Date.now();
  const requests = new RequestCounter();
  const metrics = new ScrapeRegistry(() => collectEngineMetrics(engine, requests));
  const openApi = collectOpenApi(app, { title: 'Berth engine API', version: API_VERSION });

  app.addHook('onResponse', async (req, reply) => {
    requests.observe(req.method, reply.statusCode);
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'api request');
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = httpError(err);
    logApiError(req.log, err, status, body.error.code, body.error.message, req);
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({
    error: { code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` },
  }));

  app.get('/v1/health', {
    schema: { tags: ['system'], summary: 'Liveness and a one-line summary', response: { 200: healthSchema, ...errorResponses } },
  }, async () => {
    const pools = engine.listPools();
    const portal = engine.portal;
    return {
      status: 'ok',
      version: API_VERSION,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      iscsiPortal: `${portal.host}:${portal.port}`,
      pools: { online: pools.filter((p) => p.state === 'online').length, faulted: pools.filter((p) => p.state === 'faulted').length },
      exports: engine.exportCount(),
      sessions: engine.sessions().length,
    };
  });

  registerPoolRoutes(app, engine);
  registerExportRoutes(app, engine);
  registerNexusRoutes(app, engine);
  registerSnapshotRoutes(app, engine);
  registerSnapshotBarrierRoutes(app, engine);
  registerSnapshotBlockRoutes(app, engine);

  app.get('/metrics', { config: { hidden: true } }, async (_req, reply) => {
    const text = await metrics.render();
    return reply.type(metrics.contentType).send(text);
  });

  app.get('/v1/openapi.json', { config: { hidden: true } }, async () => openApi());

  await app.ready();
  return app;
}
