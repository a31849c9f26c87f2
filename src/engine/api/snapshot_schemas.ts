/** JSON schemas of the engine's snapshot routes (request validation and response shape). */
import { NAME_PATTERN } from './api_schemas.ts';

const name = { type: 'string', pattern: NAME_PATTERN } as const;
const bytes = { type: 'integer' } as const;
const nullableString = { anyOf: [{ type: 'string' }, { type: 'null' }] } as const;

export const snapshotParams = {
  type: 'object', properties: { pool: name, snapshot: name }, required: ['pool', 'snapshot'],
} as const;

export const createSnapshotBody = {
  type: 'object', additionalProperties: false, required: ['name'], properties: { name },
} as const;

export const snapshotSchema = {
  type: 'object',
  properties: {
    pool: { type: 'string' }, name: { type: 'string' }, uuid: { type: 'string' },
    sourceVolume: nullableString, sourceVolumeUuid: nullableString, sizeBytes: bytes,
    blockSize: { type: 'integer' }, allocatedBytes: bytes, createdAt: { type: 'string' }, state: { type: 'string' },
    /** Bytes only this snapshot holds (what deleting it frees); the rest is shared. */
    exclusiveBytes: bytes,
  },
} as const;
