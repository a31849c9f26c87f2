/**
 * The CSI Controller service: a table of handlers over a ControlPlaneClient. The
 * controller keeps no state of its own beyond in-flight locks, so any replica of the
 * controller Deployment can answer once the sidecars elect it.
 */
import type { Logger } from '../util/log.ts';
import type { ControlPlaneClient } from './backend.ts';
import { KeyedLocks } from './csi_locks.ts';
import type { HandlerTable } from './csi_types.ts';
import { modifyVolume } from './controller_modify.ts';
import { controllerPublish, controllerUnpublish } from './controller_publish.ts';
import { createSnapshot, deleteSnapshot, listSnapshots } from './controller_snapshots.ts';
import {
  createVolume,
  deleteVolume,
  expandVolume,
  getCapacity,
  getVolume,
  listVolumes,
  validateVolumeCapabilities,
  type ControllerDeps,
} from './controller_volumes.ts';

export const CONTROLLER_CAPABILITIES = [
  'CREATE_DELETE_VOLUME',
  'PUBLISH_UNPUBLISH_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'PUBLISH_READONLY',
  'EXPAND_VOLUME',
  'LIST_VOLUMES_PUBLISHED_NODES',
  'VOLUME_CONDITION',
  'GET_VOLUME',
  'SINGLE_NODE_MULTI_WRITER',
  'MODIFY_VOLUME',
] as const;

export function controllerHandlers(backend: ControlPlaneClient, log: Logger): HandlerTable {
  const d: ControllerDeps = { backend, locks: new KeyedLocks(), log: log.child({ component: 'csi-controller' }) };
  return {
    CreateVolume: (req) => createVolume(d, req),
    DeleteVolume: (req) => deleteVolume(d, req),
    ControllerPublishVolume: (req) => controllerPublish(d, req),
    ControllerUnpublishVolume: (req) => controllerUnpublish(d, req),
    ValidateVolumeCapabilities: (req) => validateVolumeCapabilities(d, req),
    ListVolumes: (req) => listVolumes(d, req),
    GetCapacity: (req) => getCapacity(d, req),
    ControllerGetCapabilities: async () => ({ capabilities: CONTROLLER_CAPABILITIES.map((type) => ({ rpc: { type } })) }),
    CreateSnapshot: (req) => createSnapshot(d, req),
    DeleteSnapshot: (req) => deleteSnapshot(d, req),
    ListSnapshots: (req) => listSnapshots(d, req),
    ControllerExpandVolume: (req) => expandVolume(d, req),
    ControllerGetVolume: (req) => getVolume(d, req),
    ControllerModifyVolume: (req) => modifyVolume(d, req),
  };
}
