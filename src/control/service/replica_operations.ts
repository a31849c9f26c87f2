import { randomUUID } from 'node:crypto';
import { errorCode } from '../../util/errors.ts';
import { EngineRequestError } from '../engine_client/engine_client_errors.ts';
import type { EngineReplica } from '../engine_client/engine_client_types.ts';
import { SpecLifecycle } from '../model/spec_common.ts';
import type { ServiceContext } from './service_context.ts';
import {
  REPLICA_NAME_PREFIX, putSpec, replicaKey, splitPoolId, type ReplicaPlan, type StoredReplica,
} from './service_records.ts';

/**
 * Replica steps shared by the volume operations and the reconcilers. Each is idempotent:
 * run twice (a retry, or a reconciler finishing a crashed operation) it does the same
 * as once, so an engine ends up with one replica per plan, never two.
 */

export function newReplicaId(): string {
  return `${REPLICA_NAME_PREFIX}${randomUUID()}`;
}

/** Where a new replica's first contents come from: a snapshot or a volume in its pool, or nowhere (blank). */
export type ReplicaSource = { readonly fromSnapshot?: string; readonly fromVolume?: string };

/** Create the planned replica on its engine, or accept the one a previous attempt made. */
export async function ensureReplica(
  ctx: ServiceContext, plan: ReplicaPlan, sizeBytes: number, thin: boolean, source: ReplicaSource = {},
): Promise<EngineReplica> {
  const engine = await ctx.engineOf(plan.nodeId);
  const { pool } = splitPoolId(plan.poolId);
  try {
    return await engine.createReplica({ pool, name: plan.id, sizeBytes, thin, ...source });
  } catch (err) {
    if (errorCode(err) !== 'VOLUME_EXISTS') throw err;
    const existing = await engine.getReplica(pool, plan.id);
    if (existing === undefined) throw err;
    if (existing.sizeBytes !== sizeBytes) {
      throw new EngineRequestError('REPLICA_MISMATCH', 409, `replica ${plan.id} exists on ${plan.poolId} with ${existing.sizeBytes} bytes, want ${sizeBytes}`);
    }
    return existing;
  }
}

/**
 * Remove a replica (and its export) from its engine. Returns false when its node is not
 * online: the replica stays on the engine, and orphan cleanup removes it once the node
 * is back and no spec claims it.
 */
export async function removeReplica(ctx: ServiceContext, replica: { id: string; poolId: string; nodeId: string }): Promise<boolean> {
  if (!ctx.nodeOnline(replica.nodeId)) return false;
  const engine = await ctx.engineOf(replica.nodeId);
  const { pool } = splitPoolId(replica.poolId);
  await engine.destroyExport(pool, replica.id);
  await engine.destroyReplica(pool, replica.id);
  return true;
}

export function replicaSpecOf(plan: ReplicaPlan, volumeId: string, sizeBytes: number, thin: boolean, lifecycle: SpecLifecycle): StoredReplica {
  return { id: plan.id, volumeId, poolId: plan.poolId, nodeId: plan.nodeId, sizeBytes, thin, lifecycle };
}

export async function saveReplica(ctx: ServiceContext, replica: StoredReplica): Promise<void> {
  await putSpec(ctx.store, replicaKey(replica.id), replica, ctx.fence());
}

export const CREATED = SpecLifecycle.Created;
export const CREATING = SpecLifecycle.Creating;
