import type { FastifyInstance } from 'fastify';
import { volumeView, volumeViews, type CreateVolumeInput, type Services, type StoredVolume } from '../service/index.ts';
import { checkName } from '../service/service_records.ts';
import { setReplicaCount } from '../service/volume_replica_count.ts';
import type { ChapCredentials } from '../service/chap_seal.ts';
import {
  createVolumeBody, errorResponses, idParams, listOf, noContent, podBody, podSchema, publishBody, resizeVolumeBody,
  unpublishBody, volumeQuery, volumeSchema,
} from './api_schemas.ts';

type Id = { Params: { id: string } };

/** Volumes, their publication to a node, and the pods that mount them: /v1/volumes… */
export function registerVolumeRoutes(app: FastifyInstance, s: Services): void {
  const view = async (volume: StoredVolume, pending?: string) => volumeView(s.ctx, volume, pending, await s.publish.pods(volume.id));

  app.get<{ Querystring: { name?: string } }>('/v1/volumes', {
    schema: {
      tags: ['volumes'], summary: 'List volumes with their health and replicas; with `name`, only the volume of that name (if any)',
      querystring: volumeQuery, response: { 200: listOf('volumes', volumeSchema), ...errorResponses },
    },
  }, async (req) => {
    const entries = req.query.name === undefined ? await s.volumes.list() : await s.volumes.findByName(req.query.name);
    return { volumes: await volumeViews(s.ctx, entries) };
  });

  app.post<{ Body: CreateVolumeInput }>('/v1/volumes', {
    schema: {
      tags: ['volumes'],
      summary: 'Create a volume: place its replicas and create them (201); the same name and parameters again: 200 with the same volume',
      body: createVolumeBody, response: { 200: volumeSchema, 201: volumeSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    checkName(req.body.name, 'volume');
    const { volume, created } = await s.volumes.create(req.body);
    return reply.code(created ? 201 : 200).send(await view(volume));
  });

  app.get<Id>('/v1/volumes/:id', {
    schema: { tags: ['volumes'], summary: 'Describe a volume, its replicas, target and pods', params: idParams('id'), response: { 200: volumeSchema, ...errorResponses } },
  }, async (req) => {
    const { volume, pending } = await s.volumes.get(req.params.id);
    return view(volume, pending);
  });

  app.patch<Id & { Body: { sizeBytes?: number; replicas?: number } }>('/v1/volumes/:id', {
    schema: {
      tags: ['volumes'],
      summary: 'Grow a volume online (sizeBytes), and/or change how many replicas it keeps (replicas: raised any time; lowered while unpublished)',
      params: idParams('id'), body: resizeVolumeBody, response: { 200: volumeSchema, ...errorResponses },
    },
  }, async (req) => {
    let volume: StoredVolume | undefined;
    if (req.body.sizeBytes !== undefined) volume = await s.volumes.resize(req.params.id, req.body.sizeBytes);
    if (req.body.replicas !== undefined) volume = await setReplicaCount(s.ctx, req.params.id, req.body.replicas);
    return view(volume!);
  });

  app.delete<Id>('/v1/volumes/:id', {
    schema: { tags: ['volumes'], summary: 'Delete a volume and its replicas (not an error when it is gone)', params: idParams('id'), response: { 204: noContent, ...errorResponses } },
  }, async (req, reply) => {
    await s.volumes.delete(req.params.id);
    return reply.code(204).send();
  });

  app.post<Id & { Body: { nodeId: string; initiatorIqn?: string; chap?: ChapCredentials } }>('/v1/volumes/:id/publish', {
    schema: {
      tags: ['volumes'],
      summary: 'Publish to a node: an iSCSI export only that node\'s initiator may log in to (initiatorIqn, or the node\'s initiatorIqn label)',
      params: idParams('id'), body: publishBody, response: { 200: volumeSchema, ...errorResponses },
    },
  }, async (req) => view(await s.publish.publish(req.params.id, req.body)));

  app.post<Id & { Body: { nodeId?: string } }>('/v1/volumes/:id/unpublish', {
    schema: { tags: ['volumes'], summary: 'Unpublish (not an error when not published)', params: idParams('id'), body: unpublishBody, response: { 200: volumeSchema, ...errorResponses } },
  }, async (req) => view(await s.publish.unpublish(req.params.id, req.body)));

  app.put<{ Params: { id: string; podUid: string }; Body: { podName: string; podNamespace: string; nodeId?: string } }>('/v1/volumes/:id/pods/:podUid', {
    schema: { tags: ['volumes'], summary: 'Record that a pod mounts the volume (CSI podInfoOnMount)', params: idParams('id', 'podUid'), body: podBody, response: { 200: podSchema, ...errorResponses } },
  }, async (req) => s.publish.recordPod(req.params.id, { podUid: req.params.podUid, ...req.body }));

  app.delete<{ Params: { id: string; podUid: string } }>('/v1/volumes/:id/pods/:podUid', {
    schema: { tags: ['volumes'], summary: 'Forget a pod mount record', params: idParams('id', 'podUid'), response: { 204: noContent, ...errorResponses } },
  }, async (req, reply) => {
    await s.publish.forgetPod(req.params.id, req.params.podUid);
    return reply.code(204).send();
  });
}
