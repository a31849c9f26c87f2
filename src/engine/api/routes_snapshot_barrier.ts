import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine.ts';
import { WRITE_HOLD_DEFAULT_LEASE_MS, WRITE_HOLD_MAX_LEASE_MS } from '../../nexus/index.ts';
import { errorResponses } from './api_schemas.ts';
import { nexusParams } from './nexus_schemas.ts';

const token = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' } as const;

const pauseBody = {
  type: 'object', additionalProperties: false, required: ['token'],
  properties: { token, leaseMs: { type: 'integer', minimum: 1, maximum: WRITE_HOLD_MAX_LEASE_MS } },
} as const;
const resumeBody = { type: 'object', additionalProperties: false, required: ['token'], properties: { token } } as const;
const pauseSchema = {
  type: 'object',
  properties: {
    token: { type: 'string' }, leaseMs: { type: 'integer' }, pausedMs: { type: 'number' },
    online: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, node: { type: 'string' }, pool: { type: 'string' }, volume: { type: 'string' } } } },
  },
} as const;

/**
 * The snapshot barrier (docs/nexus.md): pause holds a nexus's new writes under a lease
 * and answers once writes in flight have finished on every child, naming the in-sync
 * children; the caller then cuts a snapshot of each of those replicas and resumes. A
 * resume after the lease ran out is NEXUS_PAUSE_LOST (409): the cut is not one point.
 */
export function registerSnapshotBarrierRoutes(app: FastifyInstance, engine: Engine): void {
  app.post<{ Params: { name: string }; Body: { token: string; leaseMs?: number } }>('/v1/nexus/:name/pause', {
    schema: {
      tags: ['nexus'], summary: 'Hold the nexus\'s writes (bounded by leaseMs) until every write in flight is done; names the in-sync replicas',
      params: nexusParams, body: pauseBody, response: { 200: pauseSchema, ...errorResponses },
    },
  }, async (req) => {
    const nexus = engine.nexuses.device(req.params.name).nexus;
    const leaseMs = req.body.leaseMs ?? WRITE_HOLD_DEFAULT_LEASE_MS;
    const started = performance.now();
    const { online } = await nexus.pauseWrites(req.body.token, leaseMs);
    const byName = new Map(engine.nexuses.describe(req.params.name).replicas.map((r) => [r.name, r]));
    return {
      token: req.body.token, leaseMs, pausedMs: performance.now() - started,
      online: online.map((name) => {
        const r = byName.get(name);
        return { name, node: r?.node ?? '', pool: r?.pool ?? '', volume: r?.volume ?? '' };
      }),
    };
  });

  app.post<{ Params: { name: string }; Body: { token: string } }>('/v1/nexus/:name/resume', {
    schema: {
      tags: ['nexus'], summary: 'Let the nexus\'s writes go; 409 NEXUS_PAUSE_LOST when the pause had already ended by its lease',
      params: nexusParams, body: resumeBody, response: { 204: { type: 'null' }, ...errorResponses },
    },
  }, async (req, reply) => {
    engine.nexuses.device(req.params.name).nexus.resumeWrites(req.body.token);
    return reply.code(204).send();
  });
}
