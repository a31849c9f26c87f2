/**
 * The CSI GroupController service (spec v1.10): crash-consistent snapshots of several
 * volumes, cut by the control plane under one write barrier across their nexuses.
 * Each handler: validate → act through the control plane (idempotent by name there) →
 * respond. Member snapshots are ordinary snapshots: a restore uses CreateVolume with a
 * snapshot source like any other.
 */
import type { Logger } from '../util/log.ts';
import { GroupSnapshotNotFoundError, InvalidArgumentError, MissingFieldError } from './csi_errors.ts';
import { KeyedLocks } from './csi_locks.ts';
import type { HandlerTable, StringMap } from './csi_types.ts';
import { requireString, snapshotToWire } from './csi_wire.ts';
import type { GroupSnapshot, SnapshotGroupClient } from './group_backend.ts';
import { SIDECAR_PARAMETER_PREFIX } from './parameters.ts';

export const GROUP_CONTROLLER_CAPABILITIES = ['CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT'] as const;

function groupToWire(g: GroupSnapshot): object {
  return {
    group_snapshot: {
      group_snapshot_id: g.id,
      snapshots: g.snapshots.map(snapshotToWire),
      creation_time: { seconds: Math.floor(g.createdAtMs / 1000), nanos: (g.createdAtMs % 1000) * 1_000_000 },
      ready_to_use: g.snapshots.every((s) => s.readyToUse),
    },
  };
}

/**
 * snapshot_ids, when the CO sends them, must be exactly the group's members (spec:
 * INVALID_ARGUMENT on a mismatch). For a delete, members an interrupted delete already
 * removed are not missing: the CO's retry must be able to finish it.
 */
function checkMembers(g: GroupSnapshot, ids: readonly string[] | undefined, partialOk = false): void {
  if (ids === undefined || ids.length === 0) return;
  const given = new Set(ids);
  const have = g.snapshots.map((s) => s.id);
  const same = partialOk ? have.every((id) => given.has(id)) : [...given].sort().join('\n') === have.sort().join('\n');
  if (!same) throw new InvalidArgumentError(`snapshot_ids do not match the members of group snapshot ${g.id}`);
}

export function groupControllerHandlers(backend: SnapshotGroupClient, log: Logger): HandlerTable {
  const locks = new KeyedLocks();
  const l = log.child({ component: 'csi-group-controller' });
  return {
    GroupControllerGetCapabilities: async () => ({ capabilities: GROUP_CONTROLLER_CAPABILITIES.map((type) => ({ rpc: { type } })) }),

    CreateVolumeGroupSnapshot: async (req: { name?: string; source_volume_ids?: string[]; parameters?: StringMap }) => {
      const name = requireString(req.name, 'name');
      const ids = req.source_volume_ids ?? [];
      if (ids.length === 0) throw new MissingFieldError('source_volume_ids');
      for (const id of ids) requireString(id, 'source_volume_ids[]');
      const unknown = Object.keys(req.parameters ?? {}).filter((k) => !k.startsWith(SIDECAR_PARAMETER_PREFIX));
      if (unknown.length > 0) throw new InvalidArgumentError(`unknown VolumeGroupSnapshotClass parameter(s) ${unknown.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}; Berth takes none`);
      return await locks.with([`group-snapshot-name:${name}`], async () => {
        const g = await backend.createGroupSnapshot(name, ids);
        l.info({ groupSnapshotId: g.id, volumes: ids.length }, 'group snapshot created');
        return groupToWire(g);
      });
    },

    GetVolumeGroupSnapshot: async (req: { group_snapshot_id?: string; snapshot_ids?: string[] }) => {
      const id = requireString(req.group_snapshot_id, 'group_snapshot_id');
      const g = await backend.getGroupSnapshot(id);
      if (g === undefined) throw new GroupSnapshotNotFoundError(id);
      checkMembers(g, req.snapshot_ids);
      return groupToWire(g);
    },

    DeleteVolumeGroupSnapshot: async (req: { group_snapshot_id?: string; snapshot_ids?: string[] }) => {
      const id = requireString(req.group_snapshot_id, 'group_snapshot_id');
      return await locks.with([`group-snapshot:${id}`], async () => {
        const g = await backend.getGroupSnapshot(id);
        if (g === undefined) return {};
        checkMembers(g, req.snapshot_ids, true);
        await backend.deleteGroupSnapshot(id);
        l.info({ groupSnapshotId: id }, 'group snapshot deleted');
        return {};
      });
    },
  };
}
