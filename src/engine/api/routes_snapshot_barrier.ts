import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine.ts';
import { WRITE_HOLD_DEFAULT_LEASE_MS, WRITE_HOLD_MAX_LEASE_MS } from '../../nexus/index.ts';
import { errorResponses, volumeParams } from './api_schemas.ts';
import { nexusParams } from './nexus_schemas.ts';
import { ExportWriteHolds } from '../export_write_hold.ts';
import { ExportNotFoundError } from '../errors.ts';
import { flushUntilQuick } from '../../block/flush_rounds.ts';

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

const flushSchema = {
  type: 'object', required: ['rounds', 'flushMs'],
  properties: { rounds: { type: 'integer' }, flushMs: { type: 'number' } },
} as const;

async function flushRounds(flush: () => Promise<void>): Promise<{ rounds: number; flushMs: number }> {
  const { rounds, ms } = await flushUntilQuick(flush);
  return { rounds, flushMs: ms };
}

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

  // Before a pause, while writes still flow: each replica writes back what it holds dirty,
  // so the flush inside the pause (the pool's, before its share) has only what came since.
  app.post<{ Params: { name: string } }>('/v1/nexus/:name/flush', {
    schema: {
      tags: ['nexus'], summary: 'Flush every child (SYNCHRONIZE CACHE) in rounds until one is quick; a shortcut before a pause',
      params: nexusParams, response: { 200: flushSchema, ...errorResponses },
    },
  }, async (req) => {
    const nexus = engine.nexuses.device(req.params.name).nexus;
    return await flushRounds(() => nexus.flush());
  });

  app.post<{ Params: { pool: string; volume: string } }>('/v1/exports/:pool/:volume/flush', {
    schema: {
      tags: ['exports'], summary: 'Flush the exported volume in rounds until one is quick; a shortcut before a pause',
      params: volumeParams, response: { 200: flushSchema, ...errorResponses },
    },
  }, async (req) => {
    const { pool, volume } = req.params;
    const lu = engine.exportUnit(pool, volume);
    if (lu === undefined) throw new ExportNotFoundError(pool, volume);
    return await flushRounds(() => lu.device.flush());
  });

  // A volume exported straight from this engine (one replica, no nexus): the same barrier on its logical unit.
  const exportHolds = new ExportWriteHolds();
  app.post<{ Params: { pool: string; volume: string }; Body: { token: string; leaseMs?: number } }>('/v1/exports/:pool/:volume/pause', {
    schema: {
      tags: ['exports'], summary: 'Hold the export\'s writes (bounded by leaseMs) until every write in flight is done',
      params: volumeParams, body: pauseBody, response: { 200: pauseSchema, ...errorResponses },
    },
  }, async (req) => {
    const { pool, volume } = req.params;
    const lu = engine.exportUnit(pool, volume);
    if (lu === undefined) throw new ExportNotFoundError(pool, volume);
    const leaseMs = req.body.leaseMs ?? WRITE_HOLD_DEFAULT_LEASE_MS;
    const started = performance.now();
    await exportHolds.pause(`${pool}/${volume}`, lu, req.body.token, leaseMs);
    return { token: req.body.token, leaseMs, pausedMs: performance.now() - started, online: [{ name: `${pool}/${volume}`, node: 'local', pool, volume }] };
  });

  app.post<{ Params: { pool: string; volume: string }; Body: { token: string } }>('/v1/exports/:pool/:volume/resume', {
    schema: {
      tags: ['exports'], summary: 'Let the export\'s writes go; 409 NEXUS_PAUSE_LOST when the pause had already ended by its lease',
      params: volumeParams, body: resumeBody, response: { 204: { type: 'null' }, ...errorResponses },
    },
  }, async (req, reply) => {
    exportHolds.resume(`${req.params.pool}/${req.params.volume}`, req.body.token);
    return reply.code(204).send();
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
