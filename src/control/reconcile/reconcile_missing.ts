import { errorCode } from '../../util/errors.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { ensureReplica, saveReplica } from '../service/replica_operations.ts';
import {
  listRecords, kindPrefixOf, replicasOf, splitPoolId, volumeKey, type StoredVolume, type VolumeOp,
} from '../service/service_records.ts';
import type { Reconciler } from './reconcile_types.ts';
import { chapField, exportChapOf } from '../service/export_chap.ts';

/**
 * Create what a volume's spec says should exist and does not.
 *
 * Given a created volume with no operation pending, and
 *   (a) a replica spec still `creating` (a replacement placed after a node loss), or
 *   (b) a target recorded for it (published) that its engine no longer exports,
 * when the replica's (or target's) node is online,
 * then (a) the replica is created on its pool and marked created — empty and still
 * awaiting its rebuild, which nexus_replicas starts on the live nexus (or, unpublished,
 * background_rebuild on a nexus of its own) — and
 * (b) the export is created again with the same target name and initiator ACL.
 * Nodes that are not online are skipped until they are.
 */
export const createMissing: Reconciler = {
  name: 'create_missing',
  async run(ctx) {
    let changed = 0;
    for (const rec of await listRecords<StoredVolume, VolumeOp>(ctx.store, kindPrefixOf(ResourceKind.Volume))) {
      const v = rec.record.spec;
      if (v === null || rec.record.pending !== null || v.lifecycle !== SpecLifecycle.Created) continue;
      changed += await ctx.locks.with(volumeKey(v.id), async () => {
        try {
          return await repairVolume(ctx, v);
        } catch (err) {
          ctx.log.warn({ volume: v.id, code: errorCode(err), err: errorCode(err) === undefined ? err : undefined }, 'cannot repair volume yet');
          return 0;
        }
      });
    }
    return changed;
  },
};

async function repairVolume(ctx: ServiceContext, v: StoredVolume): Promise<number> {
  let changed = 0;
  const replicas = await replicasOf(ctx.store, v.id);
  for (const r of replicas) {
    if (r.lifecycle !== SpecLifecycle.Creating || r.faulted !== undefined || !ctx.nodeOnline(r.nodeId)) continue;
    await ensureReplica(ctx, r, r.sizeBytes, r.thin);
    await saveReplica(ctx, { ...r, lifecycle: SpecLifecycle.Created });
    ctx.log.info({ volume: v.id, replica: r.id, pool: r.poolId }, 'replacement replica created (awaiting its rebuild)');
    changed++;
  }
  const t = v.target;
  if (t?.replicaId !== undefined && v.initiatorIqn !== undefined) {
    const r = replicas.find((x) => x.id === t.replicaId);
    if (r !== undefined && r.faulted === undefined && ctx.nodeOnline(r.nodeId)) {
      const engine = await ctx.engineOf(r.nodeId);
      const { pool } = splitPoolId(r.poolId);
      if (await engine.getExport(pool, r.id) === undefined) {
        // The same CHAP as before: an export re-made without it would protect nothing.
        const chap = exportChapOf(ctx, v.id, v.chap);
        await engine.createExport({ pool, volume: r.id, targetIqn: t.iqn, allowedInitiators: [v.initiatorIqn], ...chapField(chap) });
        ctx.log.info({ volume: v.id, target: t.iqn }, 'missing export created again');
        changed++;
      }
    }
  }
  return changed;
}
