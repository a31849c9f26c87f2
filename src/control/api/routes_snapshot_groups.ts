import type { FastifyInstance } from 'fastify';
import type { Services } from '../service/index.ts';
import type { GroupSnapshotSpec } from '../model/group_snapshot_spec.ts';
import { checkName } from '../service/service_records.ts';
import { snapshotBlocks } from '../service/snapshot_blocks.ts';
import {
  errorResponses, idParams, listOf, noContent, snapshotSchema, VOLUME_NAME_MAX_BYTES, VOLUME_NAME_PATTERN,
} from './api_schemas.ts';

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;

export const groupSnapshotSchema = {
  type: 'object',
  properties: {
    id: str, name: str, createdAtMs: int, lifecycle: str,
    volumeIds: { type: 'array', items: str },
    snapshots: { type: 'array', items: snapshotSchema },
  },
} as const;

const createGroupBody = {
  type: 'object', additionalProperties: false, required: ['name', 'volumeIds'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: VOLUME_NAME_MAX_BYTES, pattern: VOLUME_NAME_PATTERN },
    volumeIds: { type: 'array', minItems: 1, maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 256 } },
  },
} as const;

/** Query strings stay strings (no coercion in this API). */
const digits = { type: 'string', pattern: '^[0-9]{1,16}$' } as const;
const blocksQuery = {
  type: 'object', additionalProperties: false,
  properties: { base: { type: 'string', minLength: 1, maxLength: 256 }, startingOffset: digits, maxResults: digits },
} as const;
const blocksSchema = {
  type: 'object',
  properties: {
    snapshotId: str, baseSnapshotId: { anyOf: [str, { type: 'null' }] }, sizeBytes: int, blockSize: int,
    nextOffset: { anyOf: [int, { type: 'null' }] },
    ranges: { type: 'array', items: { type: 'object', properties: { offset: int, length: int } } },
  },
} as const;

type Id = { Params: { id: string } };

/** Group snapshots (/v1/snapshot-groups) and changed-block tracking (/v1/snapshots/:id/blocks). */
export function registerSnapshotGroupRoutes(app: FastifyInstance, s: Services): void {
  const view = async (g: GroupSnapshotSpec) => ({ ...g, snapshots: await s.groupSnapshots.members(g) });

  app.get('/v1/snapshot-groups', {
    schema: { tags: ['snapshots'], summary: 'List group snapshots', response: { 200: listOf('groups', groupSnapshotSchema), ...errorResponses } },
  }, async () => ({ groups: await Promise.all((await s.groupSnapshots.list()).map(view)) }));

  app.post<{ Body: { name: string; volumeIds: string[] } }>('/v1/snapshot-groups', {
    schema: {
      tags: ['snapshots'], summary: 'Snapshot several volumes at one point (one write barrier across their nexuses; idempotent by name)',
      body: createGroupBody, response: { 200: groupSnapshotSchema, 201: groupSnapshotSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    checkName(req.body.name, 'group snapshot');
    const { group, created } = await s.groupSnapshots.create(req.body);
    return reply.code(created ? 201 : 200).send(await view(group));
  });

  app.get<Id>('/v1/snapshot-groups/:id', {
    schema: { tags: ['snapshots'], summary: 'Describe a group snapshot and its members', params: idParams('id'), response: { 200: groupSnapshotSchema, ...errorResponses } },
  }, async (req) => await view(await s.groupSnapshots.get(req.params.id)));

  app.delete<Id>('/v1/snapshot-groups/:id', {
    schema: { tags: ['snapshots'], summary: 'Delete a group snapshot and its members (not an error when it is gone)', params: idParams('id'), response: { 204: noContent, ...errorResponses } },
  }, async (req, reply) => {
    await s.groupSnapshots.delete(req.params.id);
    return reply.code(204).send();
  });

  app.get<Id & { Querystring: { base?: string; startingOffset?: string; maxResults?: string } }>('/v1/snapshots/:id/blocks', {
    schema: {
      tags: ['snapshots'],
      summary: 'Changed-block tracking: byte ranges the snapshot holds data for, or (with base) those that differ from snapshot base; paged by startingOffset',
      params: idParams('id'), querystring: blocksQuery, response: { 200: blocksSchema, ...errorResponses },
    },
  }, async (req) => {
    const target = await s.snapshots.get(req.params.id);
    const base = req.query.base === undefined ? undefined : await s.snapshots.get(req.query.base);
    const page = await snapshotBlocks(s.ctx, target, {
      ...(base ? { base } : {}),
      ...(req.query.startingOffset !== undefined ? { startingOffset: Number(req.query.startingOffset) } : {}),
      ...(req.query.maxResults !== undefined ? { maxResults: Number(req.query.maxResults) } : {}),
    });
    return { snapshotId: target.id, baseSnapshotId: base?.id ?? null, ...page };
  });
}
