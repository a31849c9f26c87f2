/**
 * NodeGetVolumeStats and NodeExpandVolume: usage and health of a staged or published
 * path, and growing the filesystem after the controller grew the LUN.
 */
import { stat } from 'node:fs/promises';
import { InvalidArgumentError, MissingFieldError, VolumeNotFoundError, VolumePathNotFoundError } from './csi_errors.ts';
import type { NodeExpandVolumeRequest } from './csi_types.ts';
import { bytesFromWire, requireString } from './csi_wire.ts';
import type { NodeDeps } from './node_stage.ts';
import type { StagedVolume } from './staged_store.ts';

/** Present, of any length: kubelet's pod paths are longer than the 128 bytes the spec caps names and ids at. */
function requireVolumePath(value: string | undefined): string {
  if (value === undefined || value === '') throw new MissingFieldError('volume_path');
  return value;
}

function pathBelongs(rec: StagedVolume, path: string): boolean {
  return rec.stagingPath === path || rec.publications.some((p) => p.targetPath === path);
}

/**
 * The staged record of a volume, or NOT_FOUND. A path is never judged by its form (a
 * relative one is not INVALID_ARGUMENT): it either is one of the volume's staged or
 * published paths or the volume is NOT_FOUND there, as the spec and csi-sanity want.
 */
function stagedRecord(d: NodeDeps, volumeId: string): StagedVolume {
  const rec = d.store.get(volumeId);
  if (!rec || rec.phase !== 'staged') throw new VolumeNotFoundError(volumeId);
  return rec;
}

/** The record for a volume known at this path, or NOT_FOUND. */
function recordAt(d: NodeDeps, volumeId: string, path: string): StagedVolume {
  const rec = stagedRecord(d, volumeId);
  if (!pathBelongs(rec, path)) throw new VolumePathNotFoundError(volumeId, path);
  return rec;
}

async function condition(d: NodeDeps, rec: StagedVolume, path: string): Promise<{ abnormal: boolean; message: string }> {
  const attach = await d.attacher.problem(rec.device);
  if (attach) return { abnormal: true, message: attach };
  if (rec.kind === 'mount' && !(await d.mounter.mountAt(path))) return { abnormal: true, message: `${path} is no longer mounted` };
  return { abnormal: false, message: 'volume attached and mounted' };
}

export async function nodeGetVolumeStats(d: NodeDeps, req: { volume_id: string; volume_path: string }): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const path = requireVolumePath(req.volume_path);
  const rec = recordAt(d, volumeId, path);
  if (!(await stat(path).catch(() => undefined))) throw new VolumePathNotFoundError(volumeId, path);
  const cond = await condition(d, rec, path);
  if (cond.abnormal) return { usage: [], volume_condition: cond };
  if (rec.kind === 'block') {
    const total = await d.mounter.blockDeviceBytes(rec.device.devicePath);
    // A raw device's usage is the application's business; only its size is known.
    return { usage: [{ unit: 'BYTES', total, available: 0, used: 0 }], volume_condition: cond };
  }
  const u = await d.mounter.usage(path);
  return {
    usage: [
      { unit: 'BYTES', total: u.totalBytes, available: u.availableBytes, used: u.usedBytes },
      { unit: 'INODES', total: u.totalInodes, available: u.freeInodes, used: u.usedInodes },
    ],
    volume_condition: cond,
  };
}

export async function nodeExpand(d: NodeDeps, req: NodeExpandVolumeRequest): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const path = requireVolumePath(req.volume_path);
  const required = bytesFromWire(req.capacity_range?.required_bytes, 'capacity_range.required_bytes');
  const limit = bytesFromWire(req.capacity_range?.limit_bytes, 'capacity_range.limit_bytes');
  if (limit !== 0 && limit < required) throw new InvalidArgumentError('capacity_range: limit_bytes is smaller than required_bytes');

  return d.locks.with([`volume:${volumeId}`], async () => {
    const rec = recordAt(d, volumeId, path);
    const device = rec.device.devicePath;
    if (required > 0 && (await d.mounter.blockDeviceBytes(device)) < required) {
      await d.attacher.rescan(volumeId, rec.target, rec.device, required);
    }
    const deviceBytes = await d.mounter.blockDeviceBytes(device);
    if (rec.kind === 'block' || !rec.fsType) return { capacity_bytes: deviceBytes };
    // Grow through the staging mount: a bind-mounted publish path shows the same filesystem.
    await d.mounter.growFilesystem(device, rec.stagingPath, rec.fsType);
    d.log.info({ volumeId, deviceBytes }, 'filesystem grown');
    return { capacity_bytes: deviceBytes };
  });
}
