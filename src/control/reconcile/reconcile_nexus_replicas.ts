import { errorCode } from '../../util/errors.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { nexusChildOf, nexusNameOf, nexusRefOf } from '../service/nexus_acts.ts';
import { noteRebuild } from './reconcile_rebuild_progress.ts';
import { listRecords, kindPrefixOf, replicasOf, volumeKey, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import type { Reconciler } from './reconcile_types.ts';

/**
 * Keep a live nexus's membership equal to the volume's replicas, and learn when a
 * rebuild is done.
 *
 * Given a published replicated volume with no operation pending whose nexus node is online,
 * when (a) a replica is created, not faulted, on an online node, and not in the nexus
 *   (a replacement create_missing just made), or
 *   (b) a replica the control plane faulted (its node lost) is still in the nexus, or
 *   (c) a replica awaiting its rebuild is reported `online` by the nexus,
 * then (a) it is added to the nexus, which rebuilds it in full under live I/O,
 * (b) it is removed from the nexus (its volume stays on its engine, if that returns), and
 * (c) its awaitingRebuild mark is cleared: it is a healthy copy again and may seed the
 * next incarnation of the nexus (while it is still rebuilding, its progress is saved).
 */
export const reconcileNexusReplicas: Reconciler = {
  name: 'nexus_replicas',
  async run(ctx) {
    let changed = 0;
    for (const rec of await listRecords<StoredVolume, VolumeOp>(ctx.store, kindPrefixOf(ResourceKind.Volume))) {
      const v = rec.record.spec;
      if (v === null || rec.record.pending !== null || v.nexus === undefined || !ctx.nodeOnline(v.nexus.nodeId)) continue;
      changed += await ctx.locks.with(volumeKey(v.id), async () => {
        try {
          return await syncMembers(ctx, v);
        } catch (err) {
          ctx.log.warn({ volume: v.id, code: errorCode(err), message: (err as Error).message }, 'cannot sync nexus replicas yet');
          return 0;
        }
      });
    }
    return changed;
  },
};

async function syncMembers(ctx: ServiceContext, v: StoredVolume): Promise<number> {
  const spec = v.nexus;
  if (spec === undefined) return 0;
  const engine = await ctx.engineOf(spec.nodeId);
  const name = nexusNameOf(v.id);
  let nexus = await engine.getNexus(name);
  // Gone or another incarnation: recreating it is nexus_move's (or a restart's) business, not ours.
  if (nexus === undefined || nexus.generation !== spec.generation) return 0;
  let changed = 0;
  for (const r of await replicasOf(ctx.store, v.id)) {
    const child = nexusChildOf(nexus, r);
    if (r.faulted !== undefined) {
      if (child === undefined) continue;
      nexus = await engine.removeNexusReplica(name, child.name);
      ctx.log.info({ volume: v.id, replica: r.id }, 'faulted replica removed from the nexus');
      changed++;
    } else if (child === undefined) {
      if (r.lifecycle !== SpecLifecycle.Created || !ctx.nodeOnline(r.nodeId)) continue;
      nexus = await engine.addNexusReplica(name, { ...await nexusRefOf(ctx, r, spec.nodeId), full: r.awaitingRebuild === true });
      ctx.log.info({ volume: v.id, replica: r.id, node: r.nodeId }, 'replica added to the nexus: rebuild started');
      changed++;
    } else if (r.awaitingRebuild === true) {
      changed += await noteRebuild(ctx, r, child, 'live nexus');
    }
  }
  return changed;
}
