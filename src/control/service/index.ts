/** The core agent: operations on nodes, pools, volumes, replicas, nexuses and snapshots. */
import type { ServiceContext } from './service_context.ts';
import { NodeService } from './node_service.ts';
import { PoolService } from './pool_service.ts';
import { VolumeService } from './volume_service.ts';
import { VolumePublishService } from './volume_publish.ts';
import { ReplicaService } from './replica_service.ts';
import { NexusService } from './nexus_service.ts';
import { SnapshotService } from './snapshot_service.ts';
import { GroupSnapshotService } from './group_snapshot_service.ts';
import { AttachNodeService } from './attach_nodes.ts';

export interface Services {
  readonly ctx: ServiceContext;
  readonly nodes: NodeService;
  readonly pools: PoolService;
  readonly volumes: VolumeService;
  readonly publish: VolumePublishService;
  readonly replicas: ReplicaService;
  readonly nexuses: NexusService;
  readonly snapshots: SnapshotService;
  readonly groupSnapshots: GroupSnapshotService;
  readonly attach: AttachNodeService;
}

export function createServices(ctx: ServiceContext): Services {
  return {
    ctx,
    nodes: new NodeService(ctx),
    pools: new PoolService(ctx),
    volumes: new VolumeService(ctx),
    publish: new VolumePublishService(ctx),
    replicas: new ReplicaService(ctx),
    nexuses: new NexusService(ctx),
    snapshots: new SnapshotService(ctx),
    groupSnapshots: new GroupSnapshotService(ctx),
    attach: new AttachNodeService(ctx),
  };
}

export { ServiceContext, ALWAYS_LEADER, type Leadership, type ServiceContextOptions } from './service_context.ts';
export { FaultInjector, FAULT_ENV } from './service_faults.ts';
export { KeyedLock } from './resource_lock.ts';
export * from './service_errors.ts';
export * from './service_records.ts';
export { volumeView, volumeViews, volumeStatus, type VolumeView } from './volume_view.ts';
export { provisionVolume, unprovisionVolume, teardownVolume, exportVolume, unexportVolume, resizeVolume, isRetryable } from './volume_acts.ts';
export { ensureReplica, removeReplica, replicaSpecOf, saveReplica } from './replica_operations.ts';
export { planReplicas, placementFleet } from './volume_placement.ts';
export { replicaStatus, type ReplicaView } from './replica_service.ts';
export type { CreateVolumeInput } from './volume_service.ts';
export type { NodeView } from './node_service.ts';
export type { PoolView, CreatePoolInput } from './pool_service.ts';
export { attachNodeOf, type AttachNode, type AttachNodeInput } from './attach_nodes.ts';
export { GroupSnapshotService, groupSnapshotKey, groupSnapshotIdFor } from './group_snapshot_service.ts';
export { AttachNodeService, NodeService, PoolService, VolumeService, VolumePublishService, ReplicaService, NexusService, SnapshotService };
