import type { FastifyInstance } from 'fastify';
import type { IoSampler } from '../io_samples/index.ts';
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

/** GET /v1/volumes/:id/io: rates over the last minutes, sampled while someone reads them. */
export function registerIoRoutes(app: FastifyInstance, s: Services, sampler: IoSampler): void {
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
