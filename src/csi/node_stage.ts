/**
 * NodeStageVolume and NodeUnstageVolume: attach the volume (iSCSI login or user-space
 * export), format it if blank, mount it at the staging path; and the reverse, leaving
 * the target's session only when no other staged volume uses it.
 */
import type { Logger } from '../util/log.ts';
import { readAttachRequest, type Attacher, type TargetAddress } from './attacher.ts';
import { readCapability, sameCapability, type CapabilityInfo } from './capabilities.ts';
import { InUseError, NodeVolumeLimitError, PublishConflictError, VolumePathNotFoundError } from './csi_errors.ts';
import type { KeyedLocks } from './csi_locks.ts';
import type { NodeStageVolumeRequest } from './csi_types.ts';
import { requirePath, requireString } from './csi_wire.ts';
import type { Mounter } from './mount.ts';
import { FS_TYPES, type FsType } from './parameters.ts';
import type { StagedStore, StagedVolume } from './staged_store.ts';

export interface NodeDeps {
  nodeId: string;
  topology: Record<string, string>;
  maxVolumes: number;
  attacher: Attacher;
  mounter: Mounter;
  store: StagedStore;
  locks: KeyedLocks;
  log: Logger;
}

/** The filesystem to use: the capability's, else the StorageClass's (volume_context), else ext4. */
export function chooseFsType(cap: CapabilityInfo, volumeContext: Readonly<Record<string, string>>): FsType {
  if (cap.fsType) return cap.fsType;
  const fromClass = volumeContext.fsType;
  return (FS_TYPES as readonly string[]).includes(fromClass) ? (fromClass as FsType) : 'ext4';
}

function recordCapability(rec: StagedVolume): CapabilityInfo {
  return { kind: rec.kind, mode: rec.accessMode, fsType: rec.fsType ?? '', mountFlags: rec.mountFlags };
}

export async function nodeStage(d: NodeDeps, req: NodeStageVolumeRequest): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const stagingPath = requirePath(req.staging_target_path, 'staging_target_path');
  const cap = readCapability(req.volume_capability, 'volume_capability');
  const attach = readAttachRequest(volumeId, req.publish_context ?? {}, req.secrets ?? {});
  const fsType = cap.kind === 'mount' ? chooseFsType(cap, req.volume_context ?? {}) : undefined;
  const wanted: CapabilityInfo = { ...cap, fsType: fsType ?? '' };

  return d.locks.with([`volume:${volumeId}`], async () => {
    const existing = d.store.get(volumeId);
    if (existing?.phase === 'staged') {
      if (existing.stagingPath !== stagingPath) throw new PublishConflictError(`volume ${volumeId} is already staged at ${existing.stagingPath}`);
      if (!sameCapability(recordCapability(existing), wanted)) throw new PublishConflictError(`volume ${volumeId} is already staged with another capability`);
      if (existing.kind === 'block' || (await d.mounter.mountAt(stagingPath))) return {};
      // The record survived but the mount did not (node reboot): stage again below.
    }
    if (d.store.all().filter((r) => r.volumeId !== volumeId).length >= d.maxVolumes) {
      throw new NodeVolumeLimitError(d.nodeId, d.maxVolumes);
    }
    const device = await d.attacher.attach(attach);
    const target: TargetAddress = { portal: attach.portal, iqn: attach.iqn, lun: attach.lun };
    const rec: StagedVolume = {
      volumeId,
      stagingPath,
      kind: cap.kind,
      fsType,
      mountFlags: cap.mountFlags,
      accessMode: cap.mode,
      attacher: d.attacher.kind,
      target,
      device,
      phase: 'attached',
      publications: existing?.publications ?? [],
    };
    // Recorded before mkfs and mount, so a crash from here on is undone by unstage.
    await d.store.put(rec);
    if (cap.kind === 'mount' && fsType) {
      const formatted = await d.mounter.ensureFilesystem(device.devicePath, fsType);
      if (formatted) d.log.info({ volumeId, fsType }, 'blank volume formatted');
      if (!(await d.mounter.mountAt(stagingPath))) await d.mounter.mount(device.devicePath, stagingPath, fsType, cap.mountFlags);
    }
    rec.phase = 'staged';
    await d.store.put(rec);
    d.log.info({ volumeId, stagingPath, device: device.devicePath, attacher: d.attacher.kind }, 'volume staged');
    return {};
  });
}

function sameTarget(a: TargetAddress, b: TargetAddress): boolean {
  return a.portal === b.portal && a.iqn === b.iqn;
}

export async function nodeUnstage(d: NodeDeps, req: { volume_id: string; staging_target_path: string }): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const stagingPath = requirePath(req.staging_target_path, 'staging_target_path');
  return d.locks.with([`volume:${volumeId}`], async () => {
    const rec = d.store.get(volumeId);
    if (!rec) {
      // Nothing recorded: a repeated unstage. Make sure nothing is left mounted there.
      await d.mounter.unmount(stagingPath);
      return {};
    }
    if (rec.stagingPath !== stagingPath) throw new VolumePathNotFoundError(volumeId, stagingPath);
    if (rec.publications.length > 0) {
      throw new InUseError(`volume ${volumeId} is still published at ${rec.publications.map((p) => p.targetPath).join(', ')}`);
    }
    if (rec.kind === 'mount') {
      const unsynced = await d.mounter.syncFilesystem(stagingPath);
      if (unsynced !== undefined) d.log.warn({ volumeId, stagingPath, error: unsynced }, 'syncfs before unstage failed');
      await d.mounter.unmount(stagingPath);
      if (await d.mounter.filesystemLives(rec.device.devicePath)) {
        d.log.warn({ volumeId, device: rec.device.devicePath }, 'the filesystem is still mounted in another mount namespace after unstage: its data was synced first; what that namespace writes now is lost with the attach');
      }
    }
    // The read-only flag outlives the attachment on a loop device; clear it for the next user.
    else await d.mounter.setDeviceReadOnly(rec.device.devicePath, false).catch(() => undefined);
    const lastUser = !d.store.all().some((r) => r.volumeId !== volumeId && sameTarget(r.target, rec.target));
    await d.attacher.detach(volumeId, rec.target, rec.device, lastUser);
    await d.store.remove(volumeId);
    d.log.info({ volumeId, stagingPath, loggedOut: lastUser }, 'volume unstaged');
    return {};
  });
}
