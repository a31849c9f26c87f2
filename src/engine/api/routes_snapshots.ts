import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine.ts';
import type { VolumeInfo } from '../engine_types.ts';
import { BerthError } from '../../util/errors.ts';
import { errorResponses, listOf, poolParams, volumeParams } from './api_schemas.ts';
import { createSnapshotBody, snapshotParams, snapshotSchema } from './snapshot_schemas.ts';

type PoolParams = { pool: string };
type VolumeParams = { pool: string; volume: string };
type SnapshotParams = { pool: string; snapshot: string };

export interface CloneRequest {
  name: string;
  sizeBytes?: number;
  blockSize?: 512 | 4096;
  thin?: boolean;
  fromSnapshot?: string;
  fromVolume?: string;
}

class CloneBlockSizeError extends BerthError {
  constructor() { super('INVALID_ARGUMENT', 'a clone keeps its source\'s block size'); }
}

/** POST /v1/pools/:pool/volumes with fromSnapshot or fromVolume: a volume holding a copy of the source. */
export async function createClone(engine: Engine, pool: string, req: CloneRequest): Promise<VolumeInfo> {
  const p = engine.importedPool(pool);
  const sourceBlockSize = req.fromSnapshot !== undefined ? p.snapshotInfo(req.fromSnapshot).blockSize
    : p.volumeInfo(req.fromVolume ?? '').blockSize;
  if (req.blockSize !== undefined && req.blockSize !== sourceBlockSize) throw new CloneBlockSizeError();
  const opts = { name: req.name, sizeBytes: req.sizeBytes, thin: req.thin };
  return req.fromSnapshot !== undefined
    ? p.createVolumeFromSnapshot({ ...opts, snapshot: req.fromSnapshot })
    : p.cloneVolume({ ...opts, source: req.fromVolume ?? '' });
}

/**
 * Snapshots: /v1/pools/:pool/volumes/:volume/snapshots to take and list a volume's,
 * /v1/pools/:pool/snapshots[/:snapshot] for the pool's. A snapshot outlives its volume.
 */
export function registerSnapshotRoutes(app: FastifyInstance, engine: Engine): void {
  app.post<{ Params: VolumeParams; Body: { name: string } }>('/v1/pools/:pool/volumes/:volume/snapshots', {
    schema: {
      tags: ['snapshots'], summary: 'Snapshot a volume (shares its extents: instant; writes pause only while in-flight ones drain)',
      params: volumeParams, body: createSnapshotBody, response: { 201: snapshotSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const s = await engine.importedPool(req.params.pool).createSnapshot(req.params.volume, req.body.name);
    return reply.code(201).send({ pool: req.params.pool, ...s });
  });

  app.get<{ Params: VolumeParams }>('/v1/pools/:pool/volumes/:volume/snapshots', {
    schema: {
      tags: ['snapshots'], summary: 'List the snapshots taken of a volume', params: volumeParams,
      response: { 200: listOf('snapshots', snapshotSchema), ...errorResponses },
    },
  }, async (req) => ({
    snapshots: engine.importedPool(req.params.pool).listSnapshots(req.params.volume).map((s) => ({ pool: req.params.pool, ...s })),
  }));

  app.get<{ Params: PoolParams }>('/v1/pools/:pool/snapshots', {
    schema: {
      tags: ['snapshots'], summary: 'List the snapshots of a pool', params: poolParams,
      response: { 200: listOf('snapshots', snapshotSchema), ...errorResponses },
    },
  }, async (req) => ({
    snapshots: engine.importedPool(req.params.pool).listSnapshots().map((s) => ({ pool: req.params.pool, ...s })),
  }));

  app.get<{ Params: SnapshotParams }>('/v1/pools/:pool/snapshots/:snapshot', {
    schema: { tags: ['snapshots'], summary: 'Describe a snapshot', params: snapshotParams, response: { 200: snapshotSchema, ...errorResponses } },
  }, async (req) => ({ pool: req.params.pool, ...engine.importedPool(req.params.pool).snapshotInfo(req.params.snapshot) }));

  app.delete<{ Params: SnapshotParams }>('/v1/pools/:pool/snapshots/:snapshot', {
    schema: {
      tags: ['snapshots'], summary: 'Delete a snapshot (extents only it holds are erased and freed)', params: snapshotParams,
      response: { 204: { type: 'null' }, ...errorResponses },
    },
  }, async (req, reply) => {
    await engine.importedPool(req.params.pool).deleteSnapshot(req.params.snapshot);
    return reply.code(204).send();
  });
}
