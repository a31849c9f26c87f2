import type { FastifyInstance } from 'fastify';
import type { CreatePoolInput, Services } from '../service/index.ts';
import { createPoolBody, errorResponses, idParams, listOf, noContent, patchPoolBody, poolSchema } from './api_schemas.ts';

type Id = { Params: { id: string } };

/** Pools (id = nodeId:poolName): /v1/pools… */
export function registerPoolRoutes(app: FastifyInstance, s: Services): void {
  app.get('/v1/pools', {
    schema: { tags: ['pools'], summary: 'List pools with capacity from the last heartbeats', response: { 200: listOf('pools', poolSchema), ...errorResponses } },
  }, async () => ({ pools: await s.pools.list() }));

  app.post<{ Body: CreatePoolInput }>('/v1/pools', {
    schema: { tags: ['pools'], summary: 'Create a pool on a node\'s engine', body: createPoolBody, response: { 201: poolSchema, ...errorResponses } },
  }, async (req, reply) => reply.code(201).send(await s.pools.create(req.body)));

  app.get<Id>('/v1/pools/:id', {
    schema: { tags: ['pools'], summary: 'Describe a pool', params: idParams('id'), response: { 200: poolSchema, ...errorResponses } },
  }, async (req) => s.pools.get(req.params.id));

  app.patch<Id & { Body: { overcommitRatio: number } }>('/v1/pools/:id', {
    schema: { tags: ['pools'], summary: 'Set the thin over-commit ratio', params: idParams('id'), body: patchPoolBody, response: { 200: poolSchema, ...errorResponses } },
  }, async (req) => s.pools.setOvercommitRatio(req.params.id, req.body.overcommitRatio));

  app.delete<Id>('/v1/pools/:id', {
    schema: { tags: ['pools'], summary: 'Destroy a pool on its engine (refused while it holds replicas)', params: idParams('id'), response: { 204: noContent, ...errorResponses } },
  }, async (req, reply) => {
    await s.pools.delete(req.params.id);
    return reply.code(204).send();
  });
}
