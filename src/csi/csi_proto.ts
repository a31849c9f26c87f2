/**
 * Loads proto/csi.proto once. Every int64 crosses as a decimal string on the way in
 * (longs: String) so no byte count loses precision; handlers turn them into numbers
 * with `bytesFromWire`, which refuses anything beyond 2^53.
 */
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CSI_PROTO_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto', 'csi.proto');

/** How the proto is read, on the server and in test clients alike. */
export const CSI_LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

let cached: PackageDefinition | undefined;

export function csiPackageDefinition(): PackageDefinition {
  cached ??= loadSync(CSI_PROTO_PATH, { ...CSI_LOADER_OPTIONS, includeDirs: [dirname(CSI_PROTO_PATH)] });
  return cached;
}

export interface CsiServices {
  Identity: ServiceDefinition;
  Controller: ServiceDefinition;
  Node: ServiceDefinition;
  GroupController: ServiceDefinition;
  SnapshotMetadata: ServiceDefinition;
}

export function csiServices(): CsiServices {
  const def = csiPackageDefinition();
  const svc = (name: string) => def[`csi.v1.${name}`] as unknown as ServiceDefinition;
  return {
    Identity: svc('Identity'), Controller: svc('Controller'), Node: svc('Node'),
    GroupController: svc('GroupController'), SnapshotMetadata: svc('SnapshotMetadata'),
  };
}

/** The `csi.v1` namespace with client constructors, for test clients and tools. */
export function csiGrpcObject(): GrpcObject {
  const root = loadPackageDefinition(csiPackageDefinition());
  return (root.csi as GrpcObject).v1 as GrpcObject;
}
