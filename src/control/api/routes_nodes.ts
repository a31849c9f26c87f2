import type { FastifyInstance } from 'fastify';
import type { Services } from '../service/index.ts';
import type { AttachNodeInput } from '../service/attach_nodes.ts';
import {
  attachNodeBody, attachNodeSchema, errorResponses, heartbeatBody, heartbeatReply, idParams, listOf, noContent, nodeSchema, patchNodeBody,
} from './api_schemas.ts';

type Id = { Params: { id: string } };

/** Nodes and engine heartbeats: /v1/nodes…, /v1/heartbeats. */
export function registerNodeRoutes(app: FastifyInstance, s: Services): void {
  app.post<{ Body: unknown }>('/v1/heartbeats', {
    schema: { tags: ['nodes'], summary: 'Engine heartbeat: registers the node and reports its pools (every instance accepts it)', body: heartbeatBody, response: { 200: heartbeatReply, ...errorResponses } },
  }, async (req) => {
    await s.nodes.heartbeat(req.body);
    return { accepted: true, leader: s.ctx.leadership.isLeader() };
  });

  app.get('/v1/nodes', {
    schema: { tags: ['nodes'], summary: 'List nodes with their liveness', response: { 200: listOf('nodes', nodeSchema), ...errorResponses } },
  }, async () => ({ nodes: await s.nodes.list() }));

  app.get<Id>('/v1/nodes/:id', {
    schema: { tags: ['nodes'], summary: 'Describe a node', params: idParams('id'), response: { 200: nodeSchema, ...errorResponses } },
  }, async (req) => s.nodes.get(req.params.id));

  app.patch<Id & { Body: { cordoned: boolean } }>('/v1/nodes/:id', {
    schema: { tags: ['nodes'], summary: 'Cordon or uncordon a node (a cordoned node gets no new replicas)', params: idParams('id'), body: patchNodeBody, response: { 200: nodeSchema, ...errorResponses } },
  }, async (req) => s.nodes.cordon(req.params.id, req.body.cordoned));

  app.put<Id & { Body: AttachNodeInput }>('/v1/nodes/:id/attach', {
    schema: {
      tags: ['nodes'],
      summary: 'The CSI node plugin registers where volumes can be attached: its initiator name, zone and volume limit (any node, compute-only too)',
      params: idParams('id'), body: attachNodeBody, response: { 200: attachNodeSchema, ...errorResponses },
    },
  }, async (req) => s.attach.register(req.params.id, req.body));

  app.get<Id>('/v1/nodes/:id/attach', {
    schema: { tags: ['nodes'], summary: 'A node plugin\'s registration', params: idParams('id'), response: { 200: attachNodeSchema, ...errorResponses } },
  }, async (req) => s.attach.get(req.params.id));

  app.delete<Id>('/v1/nodes/:id/attach', {
    schema: { tags: ['nodes'], summary: 'Forget a node plugin\'s registration (not an error when there is none)', params: idParams('id'), response: { 204: noContent, ...errorResponses } },
  }, async (req, reply) => {
    await s.attach.remove(req.params.id);
    return reply.code(204).send();
  });

  app.get('/v1/attach-nodes', {
    schema: { tags: ['nodes'], summary: 'Every node plugin\'s registration', response: { 200: listOf('attachNodes', attachNodeSchema), ...errorResponses } },
  }, async () => ({ attachNodes: await s.attach.list() }));
}
