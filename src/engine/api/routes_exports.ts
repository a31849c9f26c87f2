import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine.ts';
import type { ExportRequest } from '../engine_types.ts';
import { createExportBody, errorResponses, exportSchema, listOf, localAttachSchema, targetSchema, volumeParams } from './api_schemas.ts';

type VolumeParams = { pool: string; volume: string };

/** iSCSI exports and targets: /v1/exports…, /v1/targets. */
export function registerExportRoutes(app: FastifyInstance, engine: Engine): void {
  app.get('/v1/exports', {
    schema: { tags: ['exports'], summary: 'List exports', response: { 200: listOf('exports', exportSchema), ...errorResponses } },
  }, async () => ({ exports: engine.listExports() }));

  app.post<{ Body: ExportRequest }>('/v1/exports', {
    schema: {
      tags: ['exports'],
      summary: 'Export a volume as a LUN of an iSCSI target',
      body: createExportBody,
      response: { 201: exportSchema, ...errorResponses },
    },
  }, async (req, reply) => reply.code(201).send(await engine.createExport(req.body)));

  app.get<{ Params: VolumeParams }>('/v1/exports/:pool/:volume', {
    schema: { tags: ['exports'], summary: 'Describe the export of a volume', params: volumeParams, response: { 200: exportSchema, ...errorResponses } },
  }, async (req) => engine.describeExport(req.params.pool, req.params.volume));

  app.delete<{ Params: VolumeParams }>('/v1/exports/:pool/:volume', {
    schema: { tags: ['exports'], summary: 'Unexport a volume (its target goes when empty)', params: volumeParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (req, reply) => {
    await engine.deleteExport(req.params.pool, req.params.volume);
    return reply.code(204).send();
  });

  app.get('/v1/local-attaches', {
    schema: { tags: ['exports'], summary: 'List local attaches (exports served to this node over FUSE)', response: { 200: listOf('localAttaches', localAttachSchema), ...errorResponses } },
  }, async () => ({ localAttaches: engine.listLocalAttaches() }));

  app.post<{ Params: VolumeParams }>('/v1/exports/:pool/:volume/local-attach', {
    schema: {
      tags: ['exports'],
      summary: 'Serve an exported volume to this node as a file over FUSE (needs --local-attach-dir)',
      params: volumeParams,
      response: { 201: localAttachSchema, ...errorResponses },
    },
  }, async (req, reply) => reply.code(201).send(await engine.createLocalAttach(req.params.pool, req.params.volume)));

  app.delete<{ Params: VolumeParams }>('/v1/exports/:pool/:volume/local-attach', {
    schema: { tags: ['exports'], summary: 'Unmount a local attach (refused while a loop device or a process holds the file)', params: volumeParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (req, reply) => {
    await engine.deleteLocalAttach(req.params.pool, req.params.volume);
    return reply.code(204).send();
  });

  app.get('/v1/targets', {
    schema: { tags: ['exports'], summary: 'List iSCSI targets with their LUNs and sessions', response: { 200: listOf('targets', targetSchema), ...errorResponses } },
  }, async () => ({ targets: engine.listTargets() }));
}
