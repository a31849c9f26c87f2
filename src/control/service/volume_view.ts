import { ReplicaStatus } from '../model/replica_spec.ts';
import { VolumeStatus } from '../model/volume_spec.ts';
import type { ServiceContext } from './service_context.ts';
import { replicasOf, type PodMount, type StoredVolume } from './service_records.ts';
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

export async function volumeView(
  ctx: ServiceContext, volume: StoredVolume, pending: string | undefined, pods: readonly PodMount[],
): Promise<VolumeView> {
  const replicas = (await replicasOf(ctx.store, volume.id)).map((r) => ({ ...r, status: replicaStatus(ctx, r) }));
  return { ...volume, status: volumeStatus(volume, replicas), pending: pending ?? null, replicaStates: replicas, pods };
}
