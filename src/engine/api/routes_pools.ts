import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine.ts';
import type { VolumeInfo } from '../engine_types.ts';
import { createClone, type CloneRequest } from './routes_snapshots.ts';
import {
  createPoolBody, createVolumeBody, errorResponses, importPoolBody, listOf, poolParams, poolSchema,
  resizeVolumeBody, volumeParams, volumeSchema,
} from './api_schemas.ts';

type PoolParams = { pool: string };

const count = { type: 'integer' } as const;
/** `readFree` also reads every free extent for zeros: meant for a quiet pool (writes racing it may be reported). */
const verifyQuery = { type: 'object', additionalProperties: false, properties: { readFree: { type: 'string', enum: ['true', 'false'] } } } as const;
const verifySchema = {
  type: 'object',
  properties: {
    ownedExtents: count, reservedExtents: count, freeExtents: count, partialExtents: count, sharedExtents: count,
    allocatedBytes: count, problems: { type: 'array', items: { type: 'string' } },
  },
} as const;
type VolumeParams = { pool: string; volume: string };

/** Pools and their volumes: /v1/pools… */
export function registerPoolRoutes(app: FastifyInstance, engine: Engine): void {
  const withVolumeExport = (pool: string, v: VolumeInfo) => {
    const ex = engine.listExports().find((e) => e.pool === pool && e.volume === v.name);
    return { pool, ...v, export: ex ? { targetIqn: ex.targetIqn, lun: ex.lun, url: ex.url } : null };
  };

  app.get('/v1/pools', {
    schema: { tags: ['pools'], summary: 'List registered pools', response: { 200: listOf('pools', poolSchema), ...errorResponses } },
  }, async () => ({ pools: engine.listPools() }));

  app.post<{ Body: { name: string; path?: string; sizeBytes?: number; extentSize?: number; thick?: boolean; force?: boolean } }>('/v1/pools', {
    schema: { tags: ['pools'], summary: 'Create a pool on a file or block device', body: createPoolBody, response: { 201: poolSchema, ...errorResponses } },
  }, async (req, reply) => reply.code(201).send(await engine.createPool(req.body)));

  app.post<{ Body: { path: string } }>('/v1/pools/import', {
    schema: { tags: ['pools'], summary: 'Import an existing pool', body: importPoolBody, response: { 201: poolSchema, ...errorResponses } },
  }, async (req, reply) => reply.code(201).send(await engine.importPool(req.body)));

  app.get<{ Params: PoolParams }>('/v1/pools/:pool', {
    schema: { tags: ['pools'], summary: 'Describe a pool', params: poolParams, response: { 200: poolSchema, ...errorResponses } },
  }, async (req) => engine.describePool(req.params.pool));

  app.delete<{ Params: PoolParams }>('/v1/pools/:pool', {
    schema: { tags: ['pools'], summary: 'Destroy a pool (a faulted pool is only forgotten)', params: poolParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (req, reply) => {
    await engine.destroyPool(req.params.pool);
    return reply.code(204).send();
  });

  app.get<{ Params: PoolParams; Querystring: { readFree?: 'true' | 'false' } }>('/v1/pools/:pool/verify', {
    schema: {
      tags: ['pools'], params: poolParams, querystring: verifyQuery, response: { 200: verifySchema, ...errorResponses },
      summary: 'Check the pool\'s metadata: every reference count equals the references that exist (docs/pool-format.md §6)',
    },
  }, async (req) => engine.importedPool(req.params.pool).verify({ checkFreeZeroed: req.query.readFree === 'true' }));

  app.get<{ Params: PoolParams }>('/v1/pools/:pool/volumes', {
    schema: { tags: ['volumes'], summary: 'List the volumes of a pool', params: poolParams, response: { 200: listOf('volumes', volumeSchema), ...errorResponses } },
  }, async (req) => ({
    volumes: (await engine.listVolumes(req.params.pool)).map((v) => withVolumeExport(req.params.pool, v)),
  }));

  app.post<{ Params: PoolParams; Body: CloneRequest }>('/v1/pools/:pool/volumes', {
    schema: {
      tags: ['volumes'], summary: 'Create a volume, blank or as a copy of a snapshot (fromSnapshot) or volume (fromVolume)',
      params: poolParams, body: createVolumeBody, response: { 201: volumeSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const b = req.body;
    const v = b.fromSnapshot !== undefined || b.fromVolume !== undefined
      ? await createClone(engine, req.params.pool, b)
      : await engine.createVolume(req.params.pool, { ...b, sizeBytes: b.sizeBytes ?? 0 });
    return reply.code(201).send(withVolumeExport(req.params.pool, v));
  });

  app.get<{ Params: VolumeParams }>('/v1/pools/:pool/volumes/:volume', {
    schema: { tags: ['volumes'], summary: 'Describe a volume', params: volumeParams, response: { 200: volumeSchema, ...errorResponses } },
  }, async (req) => withVolumeExport(req.params.pool, await engine.describeVolume(req.params.pool, req.params.volume)));

  app.patch<{ Params: VolumeParams; Body: { sizeBytes: number } }>('/v1/pools/:pool/volumes/:volume', {
    schema: { tags: ['volumes'], summary: 'Grow a volume online', params: volumeParams, body: resizeVolumeBody, response: { 200: volumeSchema, ...errorResponses } },
  }, async (req) => {
    const v = await engine.resizeVolume(req.params.pool, req.params.volume, req.body.sizeBytes);
    return withVolumeExport(req.params.pool, v);
  });

  app.delete<{ Params: VolumeParams }>('/v1/pools/:pool/volumes/:volume', {
    schema: { tags: ['volumes'], summary: 'Delete a volume (not while exported)', params: volumeParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (req, reply) => {
    await engine.deleteVolume(req.params.pool, req.params.volume);
    return reply.code(204).send();
  });
}
