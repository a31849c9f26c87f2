import type { ServiceContext } from './service_context.ts';
import { VolumeNotFoundError, VolumeNotReadyError } from './service_errors.ts';
import { ensureReplica, removeReplica } from './replica_operations.ts';
import { withWritesHeld } from './snapshot_barrier.ts';
import { readRecord, splitPoolId, volumeKey, type ReplicaPlan, type StoredVolume } from './service_records.ts';
import { EngineUnreachableError } from '../engine_client/engine_client_errors.ts';

/**
 * Creates the seeded replicas of a clone of a live replicated volume, each a copy of the
 * source replica in its own pool (instant with copy-on-write), all cut while the source's
 * nexus holds its writes (withWritesHeld), so every seed holds the same point in time and
 * none needs a rebuild. A retry that finds only some seeds (a crash between them) cannot
 * tell which moment they hold: it removes them and cuts all again; when all exist, they
 * were cut under one hold and are kept.
 */
export async function cloneSeedsAtOnePoint(ctx: ServiceContext, clone: StoredVolume, seeds: readonly ReplicaPlan[]): Promise<void> {
  const sourceId = clone.sourceVolumeId as string;
  const source = (await readRecord<StoredVolume>(ctx.store, volumeKey(sourceId)))?.record.spec;
  if (source == null) throw new VolumeNotFoundError(sourceId);
  const present = await Promise.all(seeds.map(async (p) => (await (await ctx.engineOf(p.nodeId)).getReplica(splitPoolId(p.poolId).pool, p.id)) !== undefined));
  if (present.every(Boolean)) return;
  for (const [i, p] of seeds.entries()) {
    if (present[i] && !(await removeReplica(ctx, p))) throw new EngineUnreachableError(p.nodeId);
  }
  await withWritesHeld(ctx, [source], async ([held]) => {
    await Promise.all(seeds.map(async (p) => {
      const from = held.replicas.find((r) => r.poolId === p.poolId);
      if (from === undefined) throw new VolumeNotReadyError(sourceId, `without an in-sync replica in pool ${p.poolId} at the barrier`);
      await ensureReplica(ctx, p, clone.sizeBytes, clone.thin, { fromVolume: from.id });
    }));
  });
}
