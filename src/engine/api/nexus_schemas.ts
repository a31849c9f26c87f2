/** JSON schemas of the nexus (replicated volume) routes; see api_schemas.ts for the conventions. */
import { NAME_PATTERN } from './api_schemas.ts';

const name = { type: 'string', pattern: NAME_PATTERN } as const;
/** `host:port`, `[v6]:port` or `local`. */
const node = { type: 'string', minLength: 1, maxLength: 262, pattern: '^(local|\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5}|[A-Za-z0-9.-]+:[0-9]{1,5})$' } as const;
const bytes = { type: 'integer' } as const;
const throttle = { type: 'integer', minimum: 0, maximum: 2 ** 40 } as const;
const throttleMode = { type: 'string', enum: ['adaptive', 'fixed'] } as const;

export const nexusParams = { type: 'object', properties: { name }, required: ['name'] } as const;
export const nexusReplicaParams = {
  type: 'object', properties: { name, replica: { type: 'string', minLength: 1, maxLength: 600 } }, required: ['name', 'replica'],
} as const;

const replicaRef = {
  type: 'object',
  additionalProperties: false,
  required: ['node', 'pool', 'volume'],
  properties: { node, pool: name, volume: name, state: { type: 'string', enum: ['online', 'stale'] } },
} as const;

export const createNexusBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'replicas'],
  properties: {
    name,
    replicas: { type: 'array', minItems: 1, maxItems: 5, items: replicaRef },
    sizeBytes: { type: 'integer', minimum: 1, maximum: 2 ** 46 },
    blockSize: { type: 'integer', enum: [512, 4096] },
    generation: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    requireFenced: { type: 'integer', minimum: 0, maximum: 5 },
    uuid: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
    regionBytes: { type: 'integer', minimum: 65536, maximum: 2 ** 30 },
    rebuildThrottleBytesPerSec: throttle,
    rebuildThrottleMode: throttleMode,
  },
} as const;

export const addReplicaBody = {
  type: 'object',
  additionalProperties: false,
  required: ['node', 'pool', 'volume'],
  properties: { node, pool: name, volume: name, full: { type: 'boolean' } },
} as const;

export const patchNexusBody = {
  type: 'object', additionalProperties: false, minProperties: 1,
  properties: { rebuildThrottleBytesPerSec: throttle, rebuildThrottleMode: throttleMode },
} as const;

const rebuild = {
  anyOf: [
    {
      type: 'object',
      properties: {
        percent: { type: 'number' }, bytesDone: bytes, bytesTotal: bytes, bytesCopied: bytes, rate: bytes,
        etaSeconds: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
      },
    },
    { type: 'null' },
  ],
} as const;

const lastRebuild = {
  anyOf: [
    {
      type: 'object',
      properties: {
        outcome: { type: 'string' }, bytesDone: bytes, bytesTotal: bytes, bytesCopied: bytes,
        seconds: { type: 'number' }, finishedAt: { type: 'string' },
      },
    },
    { type: 'null' },
  ],
} as const;

export const nexusReplicaSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' }, node: { type: 'string' }, pool: { type: 'string' }, volume: { type: 'string' },
    local: { type: 'boolean' }, state: { type: 'string' }, reason: { type: 'string' }, missingBytes: bytes,
    rebuild, lastRebuild,
    lastError: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    retryAt: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    retryAttempts: { type: 'integer' },
  },
} as const;

export const nexusSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' }, uuid: { type: 'string' }, generation: { type: 'integer' }, state: { type: 'string' },
    reason: { type: 'string' }, sizeBytes: bytes, blockSize: { type: 'integer' }, thin: { type: 'boolean' },
    rebuildThrottleBytesPerSec: bytes, rebuildThrottleMode: { type: 'string' },
    export: {
      anyOf: [
        { type: 'object', properties: { targetIqn: { type: 'string' }, lun: { type: 'integer' }, url: { type: 'string' } } },
        { type: 'null' },
      ],
    },
    replicas: { type: 'array', items: nexusReplicaSchema },
  },
} as const;

export const replicaServiceSchema = {
  type: 'object', properties: { endpoint: { type: 'string' } },
} as const;
