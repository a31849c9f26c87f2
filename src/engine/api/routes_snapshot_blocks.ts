import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine.ts';
import { BerthError } from '../../util/errors.ts';
import { NAME_PATTERN, errorResponses } from './api_schemas.ts';
import { snapshotParams } from './snapshot_schemas.ts';
import { pageRanges, RANGES_PAGE_MAX, type ByteRange } from './snapshot_blocks.ts';

/** The pool this engine runs cannot tell which blocks a snapshot holds (a pool without shared extents). */
export class ChangedBlocksUnsupportedError extends BerthError {
  constructor() { super('NOT_IMPLEMENTED', 'this engine\'s pools do not track changed blocks'); }
}

/** What changed-block tracking needs of a pool (pool.ts, copy-on-write format). */
interface ChangedBlockPool {
  snapshotAllocated?(snapshot: string): ByteRange[] | Promise<ByteRange[]>;
  snapshotDelta?(base: string, target: string): ByteRange[] | Promise<ByteRange[]>;
  snapshotInfo(name: string): { sizeBytes: number; blockSize: number };
}

/** Query strings stay strings (no type coercion in this API): decimal digits, parsed below. */
const digits = { type: 'string', pattern: '^[0-9]{1,16}$' } as const;
const pageQuery = {
  type: 'object', additionalProperties: false, properties: { startingOffset: digits, maxResults: digits },
} as const;
const deltaQuery = {
  type: 'object', additionalProperties: false, required: ['base'],
  properties: { ...pageQuery.properties, base: { type: 'string', pattern: NAME_PATTERN } },
} as const;
const rangesSchema = {
  type: 'object',
  properties: {
    sizeBytes: { type: 'integer' }, blockSize: { type: 'integer' }, nextOffset: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
    ranges: { type: 'array', items: { type: 'object', properties: { offset: { type: 'integer' }, length: { type: 'integer' } } } },
  },
} as const;

type Page = { startingOffset?: string; maxResults?: string };

function page(ranges: ByteRange[], q: Page): ReturnType<typeof pageRanges> {
  const start = q.startingOffset === undefined ? 0 : Number(q.startingOffset);
  const max = q.maxResults === undefined ? undefined : Math.min(RANGES_PAGE_MAX, Math.max(1, Number(q.maxResults)));
  return pageRanges(ranges, start, max);
}

/**
 * Changed-block tracking (docs/api.md): the byte ranges a snapshot holds data for, and
 * the ranges that differ between two snapshots of one volume, in pages.
 */
export function registerSnapshotBlockRoutes(app: FastifyInstance, engine: Engine): void {
  const poolOf = (name: string): ChangedBlockPool => engine.importedPool(name) as unknown as ChangedBlockPool;

  app.get<{ Params: { pool: string; snapshot: string }; Querystring: Page }>('/v1/pools/:pool/snapshots/:snapshot/allocated', {
    schema: {
      tags: ['snapshots'], summary: 'The byte ranges the snapshot holds data for (paged by startingOffset)',
      params: snapshotParams, querystring: pageQuery, response: { 200: rangesSchema, ...errorResponses },
    },
  }, async (req) => {
    const pool = poolOf(req.params.pool);
    const info = pool.snapshotInfo(req.params.snapshot);
    if (typeof pool.snapshotAllocated !== 'function') throw new ChangedBlocksUnsupportedError();
    const ranges = await pool.snapshotAllocated(req.params.snapshot);
    return { sizeBytes: info.sizeBytes, blockSize: info.blockSize, ...page(ranges, req.query) };
  });

  app.get<{ Params: { pool: string; snapshot: string }; Querystring: Page & { base: string } }>('/v1/pools/:pool/snapshots/:snapshot/delta', {
    schema: {
      tags: ['snapshots'], summary: 'The byte ranges that differ between snapshot `base` and this one (same volume; paged by startingOffset)',
      params: snapshotParams, querystring: deltaQuery, response: { 200: rangesSchema, ...errorResponses },
    },
  }, async (req) => {
    const pool = poolOf(req.params.pool);
    const info = pool.snapshotInfo(req.params.snapshot);
    pool.snapshotInfo(req.query.base);
    if (typeof pool.snapshotDelta !== 'function') throw new ChangedBlocksUnsupportedError();
    const ranges = await pool.snapshotDelta(req.query.base, req.params.snapshot);
    return { sizeBytes: info.sizeBytes, blockSize: info.blockSize, ...page(ranges, req.query) };
  });
}
