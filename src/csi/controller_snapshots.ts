/** CreateSnapshot, DeleteSnapshot and ListSnapshots. */
import { InvalidArgumentError, NameConflictError, VolumeNotFoundError } from './csi_errors.ts';
import { readMaxEntries, requireString, snapshotToWire } from './csi_wire.ts';
import type { ControllerDeps } from './controller_volumes.ts';
import type { StringMap } from './csi_types.ts';
import { SIDECAR_PARAMETER_PREFIX } from './parameters.ts';

export async function createSnapshot(d: ControllerDeps, req: { source_volume_id: string; name: string; parameters: StringMap }): Promise<object> {
  const sourceVolumeId = requireString(req.source_volume_id, 'source_volume_id');
  const name = requireString(req.name, 'name');
  // Snapshots take no class parameters yet; the snapshotter's own keys pass through.
  const unknown = Object.keys(req.parameters ?? {}).filter((k) => !k.startsWith(SIDECAR_PARAMETER_PREFIX));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown VolumeSnapshotClass parameter(s) ${unknown.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}; Berth takes none`);

  return d.locks.with([`snapshot-name:${name}`, `volume:${sourceVolumeId}`], async () => {
    const existing = await d.backend.findSnapshotByName(name);
    if (existing) {
      if (existing.sourceVolumeId !== sourceVolumeId) throw new NameConflictError('snapshot', name, `source volume ${existing.sourceVolumeId}`);
      return { snapshot: snapshotToWire(existing) };
    }
    const source = await d.backend.getVolume(sourceVolumeId);
    if (!source) throw new VolumeNotFoundError(sourceVolumeId);
    const snap = await d.backend.createSnapshot(name, sourceVolumeId);
    d.log.info({ snapshotId: snap.id, sourceVolumeId }, 'snapshot created');
    return { snapshot: snapshotToWire(snap) };
  });
}

export async function deleteSnapshot(d: ControllerDeps, req: { snapshot_id: string }): Promise<object> {
  const snapshotId = requireString(req.snapshot_id, 'snapshot_id');
  return d.locks.with([`snapshot:${snapshotId}`], async () => {
    await d.backend.deleteSnapshot(snapshotId);
    d.log.info({ snapshotId }, 'snapshot deleted');
    return {};
  });
}

export async function listSnapshots(
  d: ControllerDeps,
  req: { max_entries: number; starting_token: string; source_volume_id: string; snapshot_id: string },
): Promise<object> {
  const page = await d.backend.listSnapshots(
    { sourceVolumeId: req.source_volume_id || undefined, snapshotId: req.snapshot_id || undefined },
    { maxEntries: readMaxEntries(req.max_entries), startingToken: req.starting_token ?? '' },
  );
  return { entries: page.items.map((s) => ({ snapshot: snapshotToWire(s) })), next_token: page.nextToken };
}
