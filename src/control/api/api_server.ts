import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../util/log.ts';
import type { Services } from '../service/index.ts';
import {
  errorResponses, errorSchema, healthSchema, nexusSchema, nodeSchema, podSchema, poolSchema, replicaSchema, snapshotSchema, volumeSchema,
} from './api_schemas.ts';
import { collectControlOpenApi } from './control_openapi.ts';
import { httpError } from './http_status.ts';
import { registerNodeRoutes } from './routes_nodes.ts';
import { registerPoolRoutes } from './routes_pools.ts';
import { registerResourceRoutes } from './routes_resources.ts';
import { registerSnapshotGroupRoutes } from './routes_snapshot_groups.ts';
import { registerVolumeRoutes } from './routes_volumes.ts';
import { UI_OPEN_ROUTES, registerUiRoutes } from './routes_ui.ts';
import { installBearerAuth } from '../../util/http_auth.ts';
import { logApiError } from '../../util/api_error_log.ts';
import { ScrapeRegistry } from '../../util/prom_registry.ts';
import type { ReconcilerStats } from '../reconcile/index.ts';
import { collectControlMetrics } from './control_metrics.ts';
import type { EventLog } from '../events/index.ts';
import { eventSchema, registerEventRoutes } from './routes_events.ts';
import type { IoSampler } from '../io_samples/index.ts';
import { registerIoRoutes } from './routes_io.ts';

export const CONTROL_API_VERSION = '0.1.0';
const BODY_LIMIT = 256 * 1024;
export const OPENAPI_INFO = {
  title: 'Berth control-plane API',
  version: CONTROL_API_VERSION,
  description: 'Desired state of nodes, pools, volumes, replicas, nexuses and snapshots. Errors are {error:{code,message}}; see docs/control-plane-api.md.',
};

export interface ControlApiOptions {
  /** Shown by /v1/health: `sqlite` or `etcd`. */
  readonly storeKind: string;
  /** Accepted bearer tokens; absent: the API is open (loopback only, or --insecure-no-auth). */
  readonly authTokens?: readonly string[];
  /** The reconcile loop's per-reconciler counters, for /metrics (absent: not reported). */
  readonly reconcileStats?: ReadonlyMap<string, ReconcilerStats>;
  /** The event log behind GET /v1/events (absent: no such route). */
  readonly events?: EventLog;
  /** Live I/O rates behind GET /v1/volumes/:id/io and engine reads behind …/snapshot-space (absent: no such routes). */
  readonly io?: { readonly sampler: IoSampler; readonly engineGet: (endpoint: string, path: string) => Promise<unknown> };
}

/** Probes call these without a token (docs/security.md); the dashboard's page and scripts hold no data (its API reads need the token). */
export const CONTROL_OPEN_ROUTES = ['/v1/health', ...UI_OPEN_ROUTES] as const;

/**
 * The control plane's REST API. Handlers only translate: the schemas validate, a
 * service acts, the reply is shaped by the response schema. Errors become
 * {error:{code,message}} in one handler with statuses from http_status.ts. Writes on a
 * follower end in the services' NOT_LEADER (503 with the leader's URL).
 */
export async function buildControlApi(services: Services, logger: Logger, options: ControlApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  // Before any route: every request passes the bearer check first.
  if (options.authTokens) installBearerAuth(app, { tokens: options.authTokens, openRoutes: CONTROL_OPEN_ROUTES }, logger);
  const openApi = collectControlOpenApi(app, OPENAPI_INFO, {
    Error: errorSchema, Node: nodeSchema, Pool: poolSchema, Volume: volumeSchema, Replica: replicaSchema,
    Nexus: nexusSchema, Snapshot: snapshotSchema, PodMount: podSchema, Event: eventSchema,
  });

  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'api request');
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, headers } = httpError(err);
    logApiError(req.log, err, status, body.error.code, body.error.message, req);
    return reply.code(status).headers(headers).send(body);
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({
    error: { code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` },
  }));

  app.get('/v1/health', {
    schema: { tags: ['system'], summary: 'Liveness, and whether this instance leads', response: { 200: healthSchema, ...errorResponses } },
  }, async () => ({ status: 'ok', version: CONTROL_API_VERSION, leader: services.ctx.leadership.isLeader(), store: options.storeKind }));

  registerNodeRoutes(app, services);
  registerPoolRoutes(app, services);
  registerVolumeRoutes(app, services);
  registerResourceRoutes(app, services);
  registerSnapshotGroupRoutes(app, services);
  registerUiRoutes(app);
  if (options.events !== undefined) registerEventRoutes(app, options.events);
  if (options.io !== undefined) registerIoRoutes(app, services, options.io.sampler, options.io.engineGet);

  // Like the engine's: scraped with the token when the API demands one.
  const metrics = new ScrapeRegistry(() => collectControlMetrics(services, options.reconcileStats));
  app.get('/metrics', { config: { hidden: true } }, async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  app.get('/v1/openapi.json', { config: { hidden: true } }, async () => openApi());

  await app.ready();
  return app;
}
