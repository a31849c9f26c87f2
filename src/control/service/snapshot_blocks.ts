import type { SnapshotBlockPage } from '../engine_client/engine_client_types.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import type { ServiceContext } from './service_context.ts';
import { SnapshotsNotComparableError, VolumeNotReadyError } from './service_errors.ts';
import { splitPoolId } from './service_records.ts';

export interface BlocksQuery {
  readonly base?: SnapshotSpec;
  readonly startingOffset?: number;
  readonly maxResults?: number;
}

/**
 * Changed-block tracking: asks the engine of one replica that holds the snapshot (and,
 * for a delta, the base too) which byte ranges it holds data for, or which differ. A
 * replica rebuilt after the base was cut holds neither of the two (a rebuild copies the
 * volume, not its snapshots), so a delta needs a replica present at both cuts.
 */
export async function snapshotBlocks(ctx: ServiceContext, target: SnapshotSpec, q: BlocksQuery): Promise<SnapshotBlockPage> {
  const base = q.base;
  if (base !== undefined && base.volumeId !== target.volumeId) {
    throw new SnapshotsNotComparableError(`snapshots ${base.id} and ${target.id} are of different volumes`);
  }
  const both = target.replicaSnapshots.filter((c) => base === undefined || base.replicaSnapshots.some((b) => b.replicaId === c.replicaId));
  if (both.length === 0) throw new SnapshotsNotComparableError(`no replica holds both ${base?.id} and ${target.id} (one was rebuilt or replaced in between)`);
  const copy = both.find((c) => ctx.nodeOnline(splitPoolId(c.poolId).nodeId));
  if (copy === undefined) throw new VolumeNotReadyError(target.id, 'a snapshot with no copy on an online node');
  const { nodeId, pool } = splitPoolId(copy.poolId);
  return await (await ctx.engineOf(nodeId)).snapshotBlocks({
    pool, snapshot: target.id, ...(base ? { base: base.id } : {}),
    ...(q.startingOffset !== undefined ? { startingOffset: q.startingOffset } : {}),
    ...(q.maxResults !== undefined ? { maxResults: q.maxResults } : {}),
  });
}
