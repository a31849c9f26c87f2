import type { FastifyInstance } from 'fastify';
import type { Services } from '../service/index.ts';
import { checkName } from '../service/service_records.ts';
import {
  createSnapshotBody, errorResponses, idParams, listOf, nexusSchema, noContent, replicaQuery, replicaSchema,
  snapshotQuery, snapshotSchema,
} from './api_schemas.ts';

type Id = { Params: { id: string } };

/** Replicas and nexuses (read-only: volumes own them) and snapshots. */
export function registerResourceRoutes(app: FastifyInstance, s: Services): void {
  app.get<{ Querystring: { volumeId?: string; nodeId?: string; poolId?: string } }>('/v1/replicas', {
    schema: { tags: ['replicas'], summary: 'List replicas, optionally of one volume, node or pool', querystring: replicaQuery, response: { 200: listOf('replicas', replicaSchema), ...errorResponses } },
  }, async (req) => ({ replicas: await s.replicas.list(req.query) }));

  app.get<Id>('/v1/replicas/:id', {
    schema: { tags: ['replicas'], summary: 'Describe a replica', params: idParams('id'), response: { 200: replicaSchema, ...errorResponses } },
  }, async (req) => s.replicas.get(req.params.id));

  app.get('/v1/nexuses', {
    schema: { tags: ['nexuses'], summary: 'List nexuses', response: { 200: listOf('nexuses', nexusSchema), ...errorResponses } },
  }, async () => ({ nexuses: await s.nexuses.list() }));

  app.get<Id>('/v1/nexuses/:id', {
    schema: { tags: ['nexuses'], summary: 'Describe a nexus', params: idParams('id'), response: { 200: nexusSchema, ...errorResponses } },
  }, async (req) => s.nexuses.get(req.params.id));

  app.get<{ Querystring: { volumeId?: string } }>('/v1/snapshots', {
    schema: { tags: ['snapshots'], summary: 'List snapshots, optionally of one volume', querystring: snapshotQuery, response: { 200: listOf('snapshots', snapshotSchema), ...errorResponses } },
  }, async (req) => ({ snapshots: await s.snapshots.list(req.query.volumeId) }));

  app.post<{ Body: { name: string; volumeId: string } }>('/v1/snapshots', {
    schema: { tags: ['snapshots'], summary: 'Snapshot a volume: a copy on each healthy replica (idempotent by name)', body: createSnapshotBody, response: { 200: snapshotSchema, 201: snapshotSchema, ...errorResponses } },
  }, async (req, reply) => {
    checkName(req.body.name, 'snapshot');
    const { snapshot, created } = await s.snapshots.create(req.body);
    return reply.code(created ? 201 : 200).send(snapshot);
  });

  app.get<Id>('/v1/snapshots/:id', {
    schema: { tags: ['snapshots'], summary: 'Describe a snapshot', params: idParams('id'), response: { 200: snapshotSchema, ...errorResponses } },
  }, async (req) => s.snapshots.get(req.params.id));

  app.delete<Id>('/v1/snapshots/:id', {
    schema: { tags: ['snapshots'], summary: 'Delete a snapshot (not an error when it is gone)', params: idParams('id'), response: { 204: noContent, ...errorResponses } },
  }, async (req, reply) => {
    await s.snapshots.delete(req.params.id);
    return reply.code(204).send();
  });
}
