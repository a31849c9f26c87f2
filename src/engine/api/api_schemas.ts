/**
 * JSON schemas of the engine API: request validation (bad input → 400) and response
 * serialization. Response schemas list every property a client may see, which also
 * keeps anything not listed (a CHAP secret, say) from ever reaching the wire.
 */

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$';
/** iqn.YYYY-MM.reversed.domain[:anything] (RFC 7143 4.2.7.1), eui.16hex or naa.hex; names compare lower-cased. */
export const IQN_PATTERN = '^(iqn\\.[0-9]{4}-[0-9]{2}\\.[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[A-Za-z0-9.:_-]+)?|eui\\.[0-9A-Fa-f]{16}|naa\\.[0-9A-Fa-f]{16,32})$';
/** 64 TiB: far past any volume a node serves, well inside 2^53. */
const MAX_BYTES = 2 ** 46;

const name = { type: 'string', pattern: NAME_PATTERN } as const;
const size = { type: 'integer', minimum: 1, maximum: MAX_BYTES } as const;

export const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] },
  },
} as const;

export const poolParams = { type: 'object', properties: { pool: name }, required: ['pool'] } as const;
export const volumeParams = {
  type: 'object', properties: { pool: name, volume: name }, required: ['pool', 'volume'],
} as const;

export const createPoolBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name,
    path: { type: 'string', minLength: 1, maxLength: 4096 },
    sizeBytes: size,
    extentSize: { type: 'integer', minimum: 4096, maximum: 2 ** 30 },
    /** Format a file or device that holds data or a known signature (never another pool). */
    force: { type: 'boolean' },
    thick: { type: 'boolean' },
  },
} as const;

export const importPoolBody = {
  type: 'object', additionalProperties: false, required: ['path'],
  properties: { path: { type: 'string', minLength: 1, maxLength: 4096 } },
} as const;

/** A new volume, blank (sizeBytes required) or a clone of a snapshot or volume (size defaults to the source's). */
export const createVolumeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name, sizeBytes: size, blockSize: { type: 'integer', enum: [512, 4096] }, thin: { type: 'boolean' },
    fromSnapshot: name, fromVolume: name,
  },
  anyOf: [{ required: ['sizeBytes'] }, { required: ['fromSnapshot'] }, { required: ['fromVolume'] }],
  not: { required: ['fromSnapshot', 'fromVolume'] },
} as const;

export const resizeVolumeBody = {
  type: 'object', additionalProperties: false, required: ['sizeBytes'], properties: { sizeBytes: size },
} as const;

const chapName = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' } as const;
/** RFC 7143 12.1.3 wants at least 96 bits of secret; 12 characters is the common floor. */
const chapSecret = { type: 'string', minLength: 12, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' } as const;

export const createExportBody = {
  type: 'object',
  additionalProperties: false,
  required: ['pool', 'volume'],
  properties: {
    pool: name,
    volume: name,
    targetIqn: { type: 'string', maxLength: 223, pattern: IQN_PATTERN },
    lun: { type: 'integer', minimum: 0, maximum: 255 },
    allowedInitiators: {
      anyOf: [
        { type: 'array', maxItems: 256, uniqueItems: true, items: { type: 'string', maxLength: 223, pattern: IQN_PATTERN } },
        { type: 'null' },
      ],
    },
    chap: {
      anyOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['user', 'secret'],
          properties: { user: chapName, secret: chapSecret, mutualUser: chapName, mutualSecret: chapSecret },
        },
        { type: 'null' },
      ],
    },
  },
} as const;

const bytes = { type: 'integer' } as const;

export const poolSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' }, uuid: { type: 'string' }, path: { type: 'string' },
    state: { type: 'string' }, reason: { type: 'string' }, condition: { type: 'string', enum: ['ok', 'full', 'hostFull', 'syncFailed'] },
    formatVersion: { type: 'integer' }, extentSize: bytes, capacityBytes: bytes, usedBytes: bytes,
    freeBytes: bytes, volumeCount: { type: 'integer' }, thinProvisionedBytes: bytes,
    backedBytes: bytes, hostAvailableBytes: bytes,
  },
} as const;

const exportSummary = {
  anyOf: [
    { type: 'object', properties: { targetIqn: { type: 'string' }, lun: { type: 'integer' }, url: { type: 'string' } } },
    { type: 'null' },
  ],
} as const;

export const volumeSchema = {
  type: 'object',
  properties: {
    pool: { type: 'string' }, name: { type: 'string' }, uuid: { type: 'string' }, sizeBytes: bytes,
    blockSize: { type: 'integer' }, thin: { type: 'boolean' }, allocatedBytes: bytes, createdAt: {},
    state: { type: 'string' }, export: exportSummary,
  },
} as const;

const publicChap = {
  anyOf: [
    { type: 'object', properties: { user: { type: 'string' }, mutualUser: { type: 'string' } } },
    { type: 'null' },
  ],
} as const;
const acl = { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }] } as const;

export const exportSchema = {
  type: 'object',
  properties: {
    pool: { type: 'string' }, volume: { type: 'string' }, targetIqn: { type: 'string' }, lun: { type: 'integer' },
    portal: { type: 'string' }, url: { type: 'string' }, allowedInitiators: acl, chap: publicChap,
    state: { type: 'string' }, reason: { type: 'string' },
  },
} as const;

export const localAttachSchema = {
  type: 'object',
  properties: {
    pool: { type: 'string' }, volume: { type: 'string' }, path: { type: 'string' },
    errors: { type: 'object', additionalProperties: { type: 'integer' }, description: 'requests answered with an error, by errno number' },
    kept: { type: 'boolean', description: 'the FUSE keeper holds the connection: it outlives a crash of the engine worker' },
    resent: { type: 'integer', description: 'requests the kernel sent again after this engine took the connection over' },
    inFlight: { type: 'integer', description: 'requests read and not yet answered' },
  },
} as const;

export const sessionSchema = {
  type: 'object',
  properties: {
    targetIqn: { type: 'string' }, initiatorName: { type: 'string' }, isid: { type: 'string' },
    tsih: { type: 'integer' }, remoteAddress: { type: 'string' }, commandsInFlight: { type: 'integer' },
  },
} as const;

export const targetSchema = {
  type: 'object',
  properties: {
    iqn: { type: 'string' }, allowedInitiators: acl, chap: publicChap,
    luns: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          lun: { type: 'integer' }, pool: { type: 'string' }, volume: { type: 'string' },
          state: { type: 'string' }, reason: { type: 'string' },
        },
      },
    },
    sessions: { type: 'array', items: sessionSchema },
  },
} as const;

export const healthSchema = {
  type: 'object',
  properties: {
    status: { type: 'string' }, version: { type: 'string' }, uptimeSeconds: { type: 'number' },
    iscsiPortal: { type: 'string' },
    pools: { type: 'object', properties: { online: { type: 'integer' }, faulted: { type: 'integer' } } },
    exports: { type: 'integer' }, sessions: { type: 'integer' },
  },
} as const;

/** Standard error responses every route may give. */
export const errorResponses = {
  400: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 422: errorSchema,
  500: errorSchema, 503: errorSchema, 507: errorSchema,
} as const;

export function listOf(key: string, item: object): object {
  return { type: 'object', properties: { [key]: { type: 'array', items: item } }, required: [key] };
}
