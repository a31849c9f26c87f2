/**
 * NodePublishVolume and NodeUnpublishVolume: bind the staged filesystem (or the raw
 * device, onto a file) into the pod's target path, read-only when asked.
 */
import { mkdir, open, rmdir, stat, unlink } from 'node:fs/promises';
import { isReadOnlyMode, readCapability } from './capabilities.ts';
import { PreconditionError, PublishConflictError } from './csi_errors.ts';
import type { NodePublishVolumeRequest } from './csi_types.ts';
import { requirePath, requireString } from './csi_wire.ts';
import type { NodeDeps } from './node_stage.ts';

export async function nodePublish(d: NodeDeps, req: NodePublishVolumeRequest): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const targetPath = requirePath(req.target_path, 'target_path');
  const cap = readCapability(req.volume_capability, 'volume_capability');
  // Berth stages every volume, so a publish without a staging path is a CO mistake.
  if (!req.staging_target_path) throw new PreconditionError('staging_target_path is required: Berth stages volumes (NodeStageVolume first)');
  const stagingPath = requirePath(req.staging_target_path, 'staging_target_path');
  const readonly = req.readonly === true || isReadOnlyMode(cap.mode);

  return d.locks.with([`volume:${volumeId}`], async () => {
    const rec = d.store.get(volumeId);
    if (!rec || rec.phase !== 'staged') throw new PreconditionError(`volume ${volumeId} is not staged on this node`);
    if (rec.stagingPath !== stagingPath) throw new PreconditionError(`volume ${volumeId} is staged at ${rec.stagingPath}, not ${stagingPath}`);
    if (rec.kind !== cap.kind) throw new PreconditionError(`volume ${volumeId} is staged for ${rec.kind} access, not ${cap.kind}`);
    const existing = rec.publications.find((p) => p.targetPath === targetPath);
    if (existing) {
      if (existing.readonly !== readonly) throw new PublishConflictError(`volume ${volumeId} is already published at ${targetPath} with readonly=${existing.readonly}`);
      if (await d.mounter.mountAt(targetPath)) return {};
    }
    if (!(await d.mounter.mountAt(targetPath))) {
      if (rec.kind === 'block') {
        // A read-only mount does not stop writes through a device node, so read-only raw
        // access is the device's own flag, which holds for every publication on the node.
        const others = rec.publications.filter((p) => p.targetPath !== targetPath);
        if (others.some((p) => p.readonly !== readonly)) {
          throw new PreconditionError(`volume ${volumeId} is published here ${readonly ? 'read-write' : 'read-only'}; a raw device is read-only for all its publications or none`);
        }
        if (readonly) await d.mounter.setDeviceReadOnly(rec.device.devicePath, true);
        // A raw block volume appears in the pod as a device node bind-mounted onto a file.
        const fh = await open(targetPath, 'a');
        await fh.close();
        await d.mounter.bind(rec.device.devicePath, targetPath, readonly);
      } else {
        await mkdir(targetPath, { recursive: true, mode: 0o750 });
        await d.mounter.bind(stagingPath, targetPath, readonly);
      }
    }
    if (!existing) rec.publications.push({ targetPath, readonly });
    await d.store.put(rec);
    d.log.info({ volumeId, targetPath, readonly }, 'volume published');
    return {};
  });
}

export async function nodeUnpublish(d: NodeDeps, req: { volume_id: string; target_path: string }): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const targetPath = requirePath(req.target_path, 'target_path');
  return d.locks.with([`volume:${volumeId}`], async () => {
    await d.mounter.unmount(targetPath);
    // The plugin made the target path in publish, so it removes it (the spec's rule).
    // Never recursive: if anything is still there after the unmount, it is data, not ours.
    const st = await stat(targetPath).catch(() => undefined);
    if (st?.isDirectory()) {
      await rmdir(targetPath).catch((err: NodeJS.ErrnoException) => {
        throw new PreconditionError(`${targetPath} is not empty after unmount (${err.code}); left in place`);
      });
    } else if (st) {
      await unlink(targetPath);
    }
    const rec = d.store.get(volumeId);
    if (rec && rec.publications.some((p) => p.targetPath === targetPath)) {
      rec.publications = rec.publications.filter((p) => p.targetPath !== targetPath);
      if (rec.kind === 'block' && rec.publications.length === 0) await d.mounter.setDeviceReadOnly(rec.device.devicePath, false);
      await d.store.put(rec);
      d.log.info({ volumeId, targetPath }, 'volume unpublished');
    }
    return {};
  });
}
