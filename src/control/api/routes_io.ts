import type { FastifyInstance } from 'fastify';
import type { IoSampler } from '../io_samples/index.ts';
import { snapshotSpace, type EngineGet } from '../space/snapshot_space.ts';
import type { Services } from '../service/index.ts';
import { errorResponses, idParams } from './api_schemas.ts';

const num = { type: 'number' } as const;
const maybeNum = { type: 'number', nullable: true } as const;
const str = { type: 'string' } as const;

const ioSeriesSchema = {
  type: 'object', required: ['volumeId', 'intervalMs', 'windowSeconds', 'export', 'points'],
  properties: {
    volumeId: str, intervalMs: { type: 'integer' }, windowSeconds: { type: 'integer' },
    export: { type: 'object', nullable: true, properties: { nodeId: str, pool: str, volume: str } },
    note: str,
    points: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          atMs: { type: 'integer' }, readIops: num, writeIops: num, readBytesPerSec: num, writeBytesPerSec: num,
          readLatencyMs: maybeNum, writeLatencyMs: maybeNum,
        },
      },
    },
  },
} as const;

const nullableInt = { type: 'integer', nullable: true } as const;
const snapshotSpaceSchema = {
  type: 'object', required: ['snapshots'],
  properties: {
    snapshots: {
      type: 'array',
      items: {
        type: 'object', required: ['id', 'name', 'sizeBytes', 'copies'],
        properties: {
          id: str, name: str, sizeBytes: { type: 'integer' },
          copies: {
            type: 'array',
            items: {
              type: 'object', required: ['replicaId', 'poolId', 'nodeId', 'exclusiveBytes', 'allocatedBytes'],
              properties: { replicaId: str, poolId: str, nodeId: str, exclusiveBytes: nullableInt, allocatedBytes: nullableInt, note: str },
            },
          },
        },
      },
    },
  },
} as const;

/**
 * What the engines measure for a volume: GET /v1/volumes/:id/io (rates over the last
 * minutes, sampled while someone reads them) and GET /v1/volumes/:id/snapshot-space (each
 * snapshot copy's exclusive and allocated bytes, read from its engine when asked).
 */
export function registerIoRoutes(app: FastifyInstance, s: Services, sampler: IoSampler, engineGet: EngineGet): void {
  app.get<{ Params: { id: string } }>('/v1/volumes/:id/snapshot-space', {
    schema: {
      tags: ['snapshots'], summary: 'Space each snapshot copy of the volume takes (bytes only it holds), read from the engines',
      params: idParams('id'), response: { 200: snapshotSpaceSchema, ...errorResponses },
    },
  }, async (req) => {
    await s.volumes.get(req.params.id);
    return { snapshots: await snapshotSpace(s.ctx, req.params.id, engineGet) };
  });

  app.get<{ Params: { id: string } }>('/v1/volumes/:id/io', {
    schema: {
      tags: ['volumes'], summary: 'IOPS, throughput and latency over the last minutes (sampled while watched)',
      params: idParams('id'), response: { 200: ioSeriesSchema, ...errorResponses },
    },
  }, async (req) => {
    await s.volumes.get(req.params.id); // VOLUME_NOT_FOUND for an unknown id
    return sampler.series(req.params.id);
  });
}
