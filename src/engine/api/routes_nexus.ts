import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine.ts';
import { NEXUS_EXPORT_POOL } from '../engine.ts';
import type { ExportRequest } from '../engine_types.ts';
import type { CreateNexusRequest } from '../nexus_registry.ts';
import type { ReplicaRef } from '../nexus_children.ts';
import type { NexusView } from '../nexus_view.ts';
import type { RebuildThrottleModeName } from '../../nexus/index.ts';
import { VolumeExportedError } from '../errors.ts';
import { defaultTargetIqn } from '../lun_identity.ts';
import { createExportBody, errorResponses, exportSchema, listOf, localAttachSchema } from './api_schemas.ts';
import {
  addReplicaBody, createNexusBody, nexusParams, nexusReplicaParams, nexusReplicaSchema, nexusSchema, patchNexusBody, replicaServiceSchema,
} from './nexus_schemas.ts';

type NameParams = { name: string };
type ExportBody = Omit<ExportRequest, 'pool' | 'volume'>;

const { pool: _pool, volume: _volume, ...exportProps } = createExportBody.properties;
const exportNexusBody = { type: 'object', additionalProperties: false, properties: exportProps } as const;

/** Replicated volumes: /v1/nexus… (the nexus, its replicas, its export) and /v1/replica-service. */
export function registerNexusRoutes(app: FastifyInstance, engine: Engine): void {
  const withExport = (v: NexusView) => {
    const ex = engine.listExports().find((e) => e.pool === NEXUS_EXPORT_POOL && e.volume === v.name);
    return { ...v, export: ex ? { targetIqn: ex.targetIqn, lun: ex.lun, url: ex.url } : null };
  };

  app.get('/v1/replica-service', {
    schema: { tags: ['nexus'], summary: 'Where other engines reach this engine\'s replicas', response: { 200: replicaServiceSchema, ...errorResponses } },
  }, async () => ({ endpoint: engine.replicaEndpoint }));

  app.get('/v1/nexus', {
    schema: { tags: ['nexus'], summary: 'List the nexuses (replicated volumes) of this engine', response: { 200: listOf('nexuses', nexusSchema), ...errorResponses } },
  }, async () => ({ nexuses: engine.nexuses.list().map(withExport) }));

  app.post<{ Body: CreateNexusRequest }>('/v1/nexus', {
    schema: { tags: ['nexus'], summary: 'Create a nexus over 1–5 existing replica volumes and fence them', body: createNexusBody, response: { 201: nexusSchema, ...errorResponses } },
  }, async (req, reply) => reply.code(201).send(withExport(await engine.nexuses.create(req.body))));

  app.get<{ Params: NameParams }>('/v1/nexus/:name', {
    schema: { tags: ['nexus'], summary: 'Describe a nexus: replica states and rebuild progress', params: nexusParams, response: { 200: nexusSchema, ...errorResponses } },
  }, async (req) => withExport(engine.nexuses.describe(req.params.name)));

  app.patch<{ Params: NameParams; Body: { rebuildThrottleBytesPerSec?: number; rebuildThrottleMode?: RebuildThrottleModeName } }>('/v1/nexus/:name', {
    schema: {
      tags: ['nexus'], summary: 'Set the rebuild throttle: byte cap (bytes/s, 0 = none) and/or mode (adaptive: yield to foreground I/O; fixed: the cap only)',
      params: nexusParams, body: patchNexusBody, response: { 200: nexusSchema, ...errorResponses },
    },
  }, async (req) => withExport(await engine.nexuses.setThrottle(req.params.name, { bytesPerSec: req.body.rebuildThrottleBytesPerSec, mode: req.body.rebuildThrottleMode })));

  app.delete<{ Params: NameParams }>('/v1/nexus/:name', {
    schema: { tags: ['nexus'], summary: 'Destroy a nexus (not while exported); its replicas keep their data', params: nexusParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (req, reply) => {
    engine.nexuses.describe(req.params.name);
    if (engine.listExports().some((e) => e.pool === NEXUS_EXPORT_POOL && e.volume === req.params.name)) {
      throw new VolumeExportedError(NEXUS_EXPORT_POOL, req.params.name);
    }
    await engine.nexuses.destroy(req.params.name);
    return reply.code(204).send();
  });

  app.get<{ Params: NameParams }>('/v1/nexus/:name/replicas', {
    schema: { tags: ['nexus'], summary: 'List a nexus\'s replicas with state and rebuild progress', params: nexusParams, response: { 200: listOf('replicas', nexusReplicaSchema), ...errorResponses } },
  }, async (req) => ({ replicas: engine.nexuses.describe(req.params.name).replicas }));

  app.post<{ Params: NameParams; Body: ReplicaRef & { full?: boolean } }>('/v1/nexus/:name/replicas', {
    schema: { tags: ['nexus'], summary: 'Add a replica (or bring one back); starts its rebuild', params: nexusParams, body: addReplicaBody, response: { 200: nexusSchema, ...errorResponses } },
  }, async (req) => {
    const { full, ...ref } = req.body;
    return withExport(await engine.nexuses.addReplica(req.params.name, ref, { full }));
  });

  app.delete<{ Params: { name: string; replica: string } }>('/v1/nexus/:name/replicas/:replica', {
    schema: { tags: ['nexus'], summary: 'Remove a replica (by its name, URL-encoded); its volume stays', params: nexusReplicaParams, response: { 200: nexusSchema, ...errorResponses } },
  }, async (req) => withExport(await engine.nexuses.removeReplica(req.params.name, req.params.replica)));

  // The default target IQN names the nexus, not the engine: it stays the same when the nexus moves.
  app.post<{ Params: NameParams; Body: ExportBody }>('/v1/nexus/:name/export', {
    schema: { tags: ['nexus'], summary: 'Export the nexus as a LUN of an iSCSI target', params: nexusParams, body: exportNexusBody, response: { 201: exportSchema, ...errorResponses } },
  }, async (req, reply) => {
    engine.nexuses.describe(req.params.name);
    return reply.code(201).send(await engine.createExport({
      targetIqn: defaultTargetIqn('nexus', req.params.name), ...req.body, pool: NEXUS_EXPORT_POOL, volume: req.params.name,
    }));
  });

  app.delete<{ Params: NameParams }>('/v1/nexus/:name/export', {
    schema: { tags: ['nexus'], summary: 'Unexport the nexus', params: nexusParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (req, reply) => {
    await engine.deleteExport(NEXUS_EXPORT_POOL, req.params.name);
    return reply.code(204).send();
  });

  app.post<{ Params: NameParams }>('/v1/nexus/:name/local-attach', {
    schema: { tags: ['nexus'], summary: 'Serve the exported nexus to this node as a file over FUSE (docs/local-attach.md)', params: nexusParams, response: { 201: localAttachSchema, ...errorResponses } },
  }, async (req, reply) => reply.code(201).send(await engine.createLocalAttach(NEXUS_EXPORT_POOL, req.params.name)));

  app.delete<{ Params: NameParams }>('/v1/nexus/:name/local-attach', {
    schema: { tags: ['nexus'], summary: 'Unmount the nexus\'s local attach', params: nexusParams, response: { 204: { type: 'null' }, ...errorResponses } },
  }, async (req, reply) => {
    await engine.deleteLocalAttach(NEXUS_EXPORT_POOL, req.params.name);
    return reply.code(204).send();
  });
}
