import { ReplicaStatus } from '../model/replica_spec.ts';
import { VolumeStatus } from '../model/volume_spec.ts';
import type { ServiceContext } from './service_context.ts';
import { ResourceKind } from '../model/spec_common.ts';
import { PODS_PREFIX, listRecords, listSpecs, replicasOf, type PodMount, type StoredReplica, type StoredVolume } from './service_records.ts';
import { replicaStatus, type ReplicaView } from './replica_service.ts';

/** A volume as the API shows it: the spec, its health, its replicas and the pods using it. */
export interface VolumeView extends StoredVolume {
  readonly status: VolumeStatus;
  /** The operation in progress (create, delete, publish…), if any. */
  readonly pending: string | null;
  readonly replicaStates: readonly ReplicaView[];
  readonly pods: readonly PodMount[];
}

/** Pending until created; then online, degraded or faulted by the count of online replicas. */
export function volumeStatus(volume: StoredVolume, replicas: readonly ReplicaView[]): VolumeStatus {
  if (volume.lifecycle !== 'created') return VolumeStatus.Pending;
  const online = replicas.filter((r) => r.status === ReplicaStatus.Online).length;
  if (online >= volume.replicas) return VolumeStatus.Online;
  return online === 0 ? VolumeStatus.Faulted : VolumeStatus.Degraded;
}

/** Views of many volumes with one read of the replicas and pod records. */
export async function volumeViews(
  ctx: ServiceContext, entries: readonly { volume: StoredVolume; pending: string | undefined }[],
): Promise<VolumeView[]> {
  const replicas = new Map<string, ReplicaView[]>();
  for (const r of await listSpecs<StoredReplica>(ctx.store, ResourceKind.Replica)) {
    const list = replicas.get(r.volumeId) ?? [];
    list.push({ ...r, status: replicaStatus(ctx, r) });
    replicas.set(r.volumeId, list);
  }
  const pods = new Map<string, PodMount[]>();
  for (const p of await listRecords<PodMount>(ctx.store, PODS_PREFIX)) {
    if (p.record.spec === null) continue;
    const list = pods.get(p.record.spec.volumeId) ?? [];
    list.push(p.record.spec);
    pods.set(p.record.spec.volumeId, list);
  }
  return entries.map(({ volume, pending }) => {
    const rs = replicas.get(volume.id) ?? [];
    return { ...volume, status: volumeStatus(volume, rs), pending: pending ?? null, replicaStates: rs, pods: pods.get(volume.id) ?? [] };
  });
}

export async function volumeView(
  ctx: ServiceContext, volume: StoredVolume, pending: string | undefined, pods: readonly PodMount[],
): Promise<VolumeView> {
  const replicas = (await replicasOf(ctx.store, volume.id)).map((r) => ({ ...r, status: replicaStatus(ctx, r) }));
  return { ...volume, status: volumeStatus(volume, replicas), pending: pending ?? null, replicaStates: replicas, pods };
}
