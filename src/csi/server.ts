/**
 * The gRPC server on a unix socket. Handlers only see decoded requests and return
 * replies or throw BerthErrors; this file turns throws into statuses (via
 * status_map.ts) and logs each call without its secrets.
 */
import {
  Server, ServerCredentials, type ServiceDefinition, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../util/log.ts';
import { csiServices } from './csi_proto.ts';
import type { HandlerTable } from './csi_types.ts';
import type { StreamHandlerTable } from './snapshot_metadata.ts';
import { mapError, toServiceError } from './status_map.ts';

export interface CsiServerOptions {
  /** `unix:///path/csi.sock` or a bare path. */
  endpoint: string;
  identity: HandlerTable;
  controller?: HandlerTable;
  node?: HandlerTable;
  groupController?: HandlerTable;
  /** Server-streaming: SnapshotMetadata's two calls. */
  snapshotMetadata?: StreamHandlerTable;
  log: Logger;
}

/** How long in-flight calls get to finish on shutdown before they are cut. */
export const SHUTDOWN_GRACE_MS = 10_000;

export function socketPathOf(endpoint: string): string {
  const path = endpoint.replace(/^unix:\/\//, '');
  if (!path.startsWith('/')) throw new Error(`CSI endpoint must be an absolute unix socket path, got ${endpoint}`);
  return path;
}

export class CsiServer {
  private readonly server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  private readonly opts: CsiServerOptions;
  readonly socketPath: string;

  constructor(opts: CsiServerOptions) {
    this.opts = opts;
    this.socketPath = socketPathOf(opts.endpoint);
    const services = csiServices();
    this.server.addService(services.Identity, this.wrap('Identity', services.Identity, opts.identity));
    if (opts.controller) this.server.addService(services.Controller, this.wrap('Controller', services.Controller, opts.controller));
    if (opts.node) this.server.addService(services.Node, this.wrap('Node', services.Node, opts.node));
    if (opts.groupController) this.server.addService(services.GroupController, this.wrap('GroupController', services.GroupController, opts.groupController));
    if (opts.snapshotMetadata) this.server.addService(services.SnapshotMetadata, this.wrapStreams('SnapshotMetadata', services.SnapshotMetadata, opts.snapshotMetadata));
  }

  async start(): Promise<void> {
    await mkdir(dirname(this.socketPath), { recursive: true });
    // A socket left by a killed predecessor would make bind fail with EADDRINUSE.
    const old = await stat(this.socketPath).catch(() => undefined);
    if (old?.isSocket()) await rm(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix://${this.socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    this.opts.log.info({ socket: this.socketPath }, 'CSI server listening');
  }

  /** Lets in-flight calls finish (up to graceMs), then cuts the rest and removes the socket. */
  async stop(graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await rm(this.socketPath, { force: true });
    this.opts.log.info('CSI server stopped');
  }

  private wrapStreams(service: string, def: ServiceDefinition, table: StreamHandlerTable): UntypedServiceImplementation {
    return streamImpl(service, def, table, this.opts.log);
  }

  private wrap(service: string, def: ServiceDefinition, table: HandlerTable): UntypedServiceImplementation {
    const impl: UntypedServiceImplementation = {};
    const log = this.opts.log;
    for (const method of Object.keys(def)) {
      const handler = table[method];
      impl[method] = (call: ServerUnaryCall<object, object>, callback: sendUnaryData<object>) => {
        const started = Date.now();
        const fields = requestIds(call.request);
        if (!handler) {
          callback({ code: 12, details: `${service}.${method} is not implemented by Berth` });
          return;
        }
        handler(call.request).then(
          (reply) => {
            log.debug({ rpc: method, ...fields, ms: Date.now() - started }, 'csi call ok');
            callback(null, reply);
          },
          (err: unknown) => {
            const mapped = mapError(err);
            const level = mapped.berthCode === 'INTERNAL' || mapped.berthCode === 'CSI_NODE_COMMAND_FAILED' ? 'error' : 'info';
            log[level]({ rpc: method, ...fields, code: mapped.code, berthCode: mapped.berthCode, err: level === 'error' ? err : undefined, ms: Date.now() - started }, 'csi call failed');
            callback(toServiceError(err));
          },
        );
      };
    }
    return impl;
  }
}

/** Server-streaming calls: the handler sends messages; a throw ends the stream with the mapped status. */
function streamImpl(service: string, def: ServiceDefinition, table: StreamHandlerTable, log: Logger): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  for (const method of Object.keys(def)) {
    const handler = table[method];
    impl[method] = (call: ServerWritableStream<object, object>) => {
      const started = Date.now();
      if (!handler) {
        call.emit('error', { code: 12, details: `${service}.${method} is not implemented by Berth` });
        return;
      }
      handler(call.request, (m) => { call.write(m); }).then(
        () => {
          log.debug({ rpc: method, ...requestIds(call.request), ms: Date.now() - started }, 'csi stream ok');
          call.end();
        },
        (err: unknown) => {
          const mapped = mapError(err);
          log[mapped.berthCode === 'INTERNAL' ? 'error' : 'info']({ rpc: method, ...requestIds(call.request), code: mapped.code, berthCode: mapped.berthCode, ms: Date.now() - started }, 'csi stream failed');
          call.emit('error', toServiceError(err));
        },
      );
    };
  }
  return impl;
}

/** The identifying fields of a request, for the log; never secrets or contexts. */
function requestIds(req: unknown): Record<string, unknown> {
  const r = req as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['name', 'volume_id', 'node_id', 'snapshot_id', 'source_volume_id', 'group_snapshot_id', 'base_snapshot_id', 'target_snapshot_id', 'staging_target_path', 'target_path', 'volume_path']) {
    if (typeof r?.[k] === 'string' && r[k] !== '') out[k] = r[k];
  }
  return out;
}
