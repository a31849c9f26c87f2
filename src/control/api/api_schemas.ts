/**
 * JSON schemas of the control-plane API: requests are validated against them (bad
 * input → 400 before any service sees it) and responses serialised through them, which
 * also keeps anything unlisted from reaching the wire. The OpenAPI document is built
 * from these same objects.
 */

/**
 * CSI names: any UTF-8 without control characters (the spec allows `a b`, `a:b`, `v+1`,
 * unicode, a leading `-`). Ids derive from names by a hash (service_records.ts), so no
 * name ever reaches an engine, a path or an IQN. The spec's 128-byte bound is checked
 * in the service (JSON Schema counts characters, not bytes).
 */
export const VOLUME_NAME_PATTERN = '^[^\\u0000-\\u001f\\u007f]+$';
export const VOLUME_NAME_MAX_BYTES = 128;
export const ENGINE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$';
export const NODE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$';
export const IQN_PATTERN = '^(iqn\\.[0-9]{4}-[0-9]{2}\\.[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[A-Za-z0-9.:_-]+)?|eui\\.[0-9A-Fa-f]{16}|naa\\.[0-9A-Fa-f]{16,32})$';
const MAX_BYTES = 2 ** 46;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const size = { type: 'integer', minimum: 512, maximum: MAX_BYTES } as const;
const tag = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$' } as const;
const tags = { type: 'array', items: tag, maxItems: 32 } as const;
const labels = { type: 'object', additionalProperties: str } as const;
const media = { type: 'string', enum: ['hdd', 'ssd'] } as const;
const lifecycle = { type: 'string', enum: ['creating', 'created', 'deleting'] } as const;
const spread = {
  type: 'object', additionalProperties: false, required: ['domain', 'strict'],
  properties: { domain: { type: 'string', enum: ['zone', 'storageGroup', 'node'] }, strict: bool },
} as const;
const qos = {
  type: 'object', additionalProperties: false,
  properties: { maxIops: { type: 'integer', minimum: 1 }, maxBandwidthBytes: { type: 'integer', minimum: 1 } },
} as const;

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object', required: ['code', 'message'],
      properties: { code: str, message: str, leader: { type: 'string', description: 'NOT_LEADER only: URL of the leader' } },
    },
  },
} as const;

export const errorResponses = {
  400: errorSchema, 404: errorSchema, 409: errorSchema, 422: errorSchema, 500: errorSchema,
  501: errorSchema, 502: errorSchema, 503: errorSchema, 504: errorSchema, 507: errorSchema,
} as const;

export const noContent = { type: 'null' } as const;

export function listOf(key: string, item: object): object {
  return { type: 'object', required: [key], properties: { [key]: { type: 'array', items: item } } };
}

export function idParams(...names: string[]): object {
  return {
    type: 'object', required: names,
    properties: Object.fromEntries(names.map((n) => [n, { type: 'string', minLength: 1, maxLength: 256 }])),
  };
}

// ---- nodes ----

export const heartbeatBody = {
  type: 'object',
  required: ['nodeId', 'endpoint', 'zone', 'storageGroup', 'pools'],
  properties: {
    nodeId: str, endpoint: str, zone: str, storageGroup: str, labels, engineVersion: str,
    pools: {
      type: 'array', maxItems: 256,
      items: {
        type: 'object',
        required: ['id', 'media', 'status', 'capacityBytes', 'usedBytes', 'committedBytes', 'replicaCount'],
        properties: {
          id: str, media, tags, status: { type: 'string', enum: ['unknown', 'online', 'degraded', 'faulted'] },
          capacityBytes: int, usedBytes: int, committedBytes: int, replicaCount: int,
        },
      },
    },
  },
} as const;

export const heartbeatReply = {
  type: 'object', required: ['accepted', 'leader'], properties: { accepted: bool, leader: bool },
} as const;

export const nodeSchema = {
  type: 'object',
  properties: {
    id: str, endpoint: str, zone: str, storageGroup: str, labels, cordoned: bool, lifecycle,
    state: {
      type: 'object',
      properties: { status: { type: 'string', enum: ['unknown', 'online', 'offline'] }, lastHeartbeatMs: int, engineVersion: str },
    },
  },
} as const;

export const patchNodeBody = {
  type: 'object', additionalProperties: false, required: ['cordoned'], properties: { cordoned: bool },
} as const;

/** The CSI node plugin's registration (any node, including one without an engine). */
export const attachNodeBody = {
  type: 'object', additionalProperties: false, required: ['initiatorIqn'],
  properties: {
    initiatorIqn: { type: 'string', pattern: IQN_PATTERN },
    zone: { type: 'string', minLength: 1, maxLength: 253 },
    maxVolumes: { type: 'integer', minimum: 1, maximum: 100_000 },
  },
} as const;

export const attachNodeSchema = {
  type: 'object',
  properties: { id: str, initiatorIqn: str, zone: str, maxVolumes: int, registeredAtMs: int },
} as const;

// ---- pools ----

export const poolSchema = {
  type: 'object',
  properties: {
    id: str, nodeId: str, name: str, disks: { type: 'array', items: str }, media, tags: { type: 'array', items: str },
    overcommitRatio: { type: 'number' }, lifecycle,
    status: { type: 'string', enum: ['unknown', 'online', 'degraded', 'faulted'] },
    capacityBytes: int, usedBytes: int, committedBytes: int, replicaCount: int,
  },
} as const;

export const createPoolBody = {
  type: 'object', additionalProperties: false, required: ['nodeId', 'name'],
  properties: {
    nodeId: { type: 'string', pattern: NODE_ID_PATTERN },
    name: { type: 'string', pattern: ENGINE_NAME_PATTERN },
    path: { type: 'string', minLength: 1, maxLength: 4096 },
    sizeBytes: { type: 'integer', minimum: 1, maximum: MAX_BYTES },
    overcommitRatio: { type: 'number', minimum: 1, maximum: 100 },
  },
} as const;

export const patchPoolBody = {
  type: 'object', additionalProperties: false, required: ['overcommitRatio'],
  properties: { overcommitRatio: { type: 'number', minimum: 1, maximum: 100 } },
} as const;

// ---- replicas, nexuses ----

export const replicaSchema = {
  type: 'object',
  properties: {
    id: str, volumeId: str, poolId: str, nodeId: str, sizeBytes: int, thin: bool, lifecycle,
    status: { type: 'string', enum: ['unknown', 'online', 'rebuilding', 'faulted', 'missing'] },
    faulted: { type: 'object', properties: { reason: str, atMs: int } },
    awaitingRebuild: bool,
    rebuildProgress: { type: 'number', minimum: 0, maximum: 1, description: 'Rebuild progress (0–1) while a nexus copies into it' },
  },
} as const;

export const replicaQuery = {
  type: 'object', additionalProperties: false,
  properties: { volumeId: str, nodeId: str, poolId: str },
} as const;

export const nexusSchema = {
  type: 'object',
  properties: {
    id: str, volumeId: str, nodeId: str, children: { type: 'array', items: str }, generation: int,
    protocol: { type: 'string', enum: ['iscsi'] }, lifecycle,
  },
} as const;

// ---- volumes ----

/** A client's own string facts about a volume, kept and returned as given (the CSI driver's normalized parameters). */
const attributes = {
  type: 'object', maxProperties: 32, additionalProperties: { type: 'string', maxLength: 1024 },
} as const;

/**
 * How the volume's rebuilds share the nodes with its users (docs/nexus.md "Rebuild throttle"): `mode` adaptive
 * (yield to foreground I/O) or fixed (the cap only); `bytesPerSec` a hard cap, 0 = none. Unset: the engine's default.
 */
const rebuildThrottle = {
  type: 'object', additionalProperties: false, minProperties: 1,
  properties: { mode: { type: 'string', enum: ['adaptive', 'fixed'] }, bytesPerSec: { type: 'integer', minimum: 0, maximum: 2 ** 40 } },
} as const;

export const createVolumeBody = {
  type: 'object', additionalProperties: false, required: ['name', 'sizeBytes'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: VOLUME_NAME_MAX_BYTES, pattern: VOLUME_NAME_PATTERN },
    sizeBytes: size,
    replicas: { type: 'integer', minimum: 1, maximum: 5 },
    thin: bool, media, requiredTags: tags, excludedTags: tags,
    storageGroup: { type: 'string', pattern: NODE_ID_PATTERN },
    spread, encrypted: bool, qos, rebuildThrottle,
    /** Restore: the new volume starts as a copy of this snapshot (id from POST /v1/snapshots). */
    sourceSnapshotId: { type: 'string', minLength: 1, maxLength: 256 },
    /** Clone: the new volume starts as a copy of this volume (its id); not with sourceSnapshotId. */
    sourceVolumeId: { type: 'string', minLength: 1, maxLength: 256 },
    attributes,
    /** Where the pod will run (CSI accessibility requirements): preferences for the first replica; `zone` confines every replica. */
    placement: {
      type: 'object', additionalProperties: false,
      properties: {
        preferredNodes: { type: 'array', maxItems: 64, items: { type: 'string', pattern: NODE_ID_PATTERN } },
        preferredZones: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 253 } },
        zone: { type: 'string', minLength: 1, maxLength: 253 },
      },
    },
  },
} as const;

/** Grow (`sizeBytes`) and/or change the wanted replica count (`replicas`; CSI ControllerModifyVolume). */
export const resizeVolumeBody = {
  type: 'object', additionalProperties: false, minProperties: 1,
  properties: { sizeBytes: size, replicas: { type: 'integer', minimum: 1, maximum: 5 } },
} as const;

/** CHAP every export of the volume demands; secrets are checked without ever being echoed, and stored sealed. */
const chapCredentials = {
  type: 'object', additionalProperties: false, required: ['user', 'secret'],
  properties: { user: str, secret: str, mutualUser: str, mutualSecret: str },
} as const;

export const publishBody = {
  type: 'object', additionalProperties: false, required: ['nodeId'],
  properties: { nodeId: { type: 'string', pattern: NODE_ID_PATTERN }, initiatorIqn: { type: 'string', pattern: IQN_PATTERN }, chap: chapCredentials },
} as const;

export const unpublishBody = {
  type: 'object', additionalProperties: false,
  properties: { nodeId: { type: 'string', pattern: NODE_ID_PATTERN } },
} as const;

export const podBody = {
  type: 'object', additionalProperties: false, required: ['podName', 'podNamespace'],
  properties: {
    podName: { type: 'string', minLength: 1, maxLength: 253 },
    podNamespace: { type: 'string', minLength: 1, maxLength: 63 },
    nodeId: { type: 'string', pattern: NODE_ID_PATTERN },
  },
} as const;

export const podSchema = {
  type: 'object',
  properties: { volumeId: str, podUid: str, podName: str, podNamespace: str, nodeId: str, recordedAtMs: int },
} as const;

export const volumeSchema = {
  type: 'object',
  properties: {
    id: str, name: str, sizeBytes: int, replicas: int, thin: bool, media,
    requiredTags: { type: 'array', items: str }, excludedTags: { type: 'array', items: str },
    storageGroup: str, spread, encrypted: bool, qos, rebuildThrottle, sourceSnapshotId: str, sourceVolumeId: str, attributes,
    zone: { type: 'string', description: 'A zone-local volume: every replica is in this zone' },
    publishedNodeId: str, initiatorIqn: str,
    target: { type: 'object', properties: { iqn: str, portal: str, url: str, replicaId: str } },
    chap: { type: 'object', description: 'CHAP the exports demand: user names only (secrets are stored sealed, never shown)', properties: { user: str, mutualUser: str } },
    lifecycle, createdAtMs: int,
    syncNexus: {
      type: 'object', description: 'The unexported nexus rebuilding an unpublished volume\'s replicas in the background',
      properties: { nodeId: str, generation: int },
    },
    status: { type: 'string', enum: ['pending', 'online', 'degraded', 'faulted'] },
    pending: { type: 'string', nullable: true },
    replicaStates: { type: 'array', items: replicaSchema },
    pods: { type: 'array', items: podSchema },
  },
} as const;

// ---- snapshots ----

export const snapshotSchema = {
  type: 'object',
  properties: {
    id: str, name: str, volumeId: str, sizeBytes: int, createdAtMs: int, lifecycle, groupId: str,
    replicaSnapshots: { type: 'array', items: { type: 'object', properties: { replicaId: str, poolId: str } } },
  },
} as const;

export const createSnapshotBody = {
  type: 'object', additionalProperties: false, required: ['name', 'volumeId'],
  properties: { name: { type: 'string', minLength: 1, maxLength: VOLUME_NAME_MAX_BYTES, pattern: VOLUME_NAME_PATTERN }, volumeId: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

/** `name`: the one volume of that name, found by its id (derived from the name), not by a scan. */
export const volumeQuery = {
  type: 'object', additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 253 } },
} as const;

export const snapshotQuery = {
  type: 'object', additionalProperties: false, properties: { volumeId: str },
} as const;

export const healthSchema = {
  type: 'object',
  properties: { status: str, version: str, leader: bool, store: str },
} as const;
