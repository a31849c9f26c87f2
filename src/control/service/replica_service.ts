import { ResourceKind } from '../model/spec_common.ts';
import { ReplicaStatus } from '../model/replica_spec.ts';
import type { ServiceContext } from './service_context.ts';
import { ReplicaNotFoundError } from './service_errors.ts';
import { listSpecs, readRecord, replicaKey, type StoredReplica } from './service_records.ts';

export interface ReplicaView extends StoredReplica {
  readonly status: ReplicaStatus;
}

/**
 * Replicas belong to volumes: the volume operations and the reconcilers create and
 * remove them. This service reads them, with a status the control plane can tell
 * without a nexus: faulted (recorded), missing (node offline), rebuilding (a
 * replacement awaiting its rebuild), online, or unknown.
 */
export class ReplicaService {
  readonly #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  async list(filter: { volumeId?: string; nodeId?: string; poolId?: string } = {}): Promise<ReplicaView[]> {
    const all = await listSpecs<StoredReplica>(this.#ctx.store, ResourceKind.Replica);
    return all
      .filter((r) => (filter.volumeId === undefined || r.volumeId === filter.volumeId) &&
        (filter.nodeId === undefined || r.nodeId === filter.nodeId) && (filter.poolId === undefined || r.poolId === filter.poolId))
      .map((r) => this.view(r));
  }

  async get(id: string): Promise<ReplicaView> {
    const r = await readRecord<StoredReplica>(this.#ctx.store, replicaKey(id));
    if (r?.record.spec == null) throw new ReplicaNotFoundError(id);
    return this.view(r.record.spec);
  }

  view(r: StoredReplica): ReplicaView {
    return { ...r, status: replicaStatus(this.#ctx, r) };
  }
}

export function replicaStatus(ctx: ServiceContext, r: StoredReplica): ReplicaStatus {
  if (r.faulted !== undefined) return ReplicaStatus.Faulted;
  const node = ctx.registry.state(r.nodeId);
  if (node === undefined || node.status === 'unknown') return ReplicaStatus.Unknown;
  if (node.status === 'offline') return ReplicaStatus.Missing;
  if (r.lifecycle !== 'created') return ReplicaStatus.Unknown;
  // Created empty after a node loss: not a copy of the data until rebuilt.
  return r.awaitingRebuild === true ? ReplicaStatus.Rebuilding : ReplicaStatus.Online;
}
