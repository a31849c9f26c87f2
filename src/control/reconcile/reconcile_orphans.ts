import { errorCode } from '../../util/errors.ts';
import { ResourceKind } from '../model/spec_common.ts';
import type { EngineApi } from '../engine_client/engine_client_types.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { removeReplica } from '../service/replica_operations.ts';
import {
  REPLICA_NAME_PREFIX, deleteSpec, kindPrefixOf, listRecords, listSpecs, poolIdOf, replicaKey, volumeKey,
  type StoredReplica, type StoredVolume, type VolumeOp,
} from '../service/service_records.ts';
import type { Reconciler } from './reconcile_types.ts';

export interface OrphanOptions {
  /** Engine volumes younger than this are left alone (default 60 s): a margin against any race. */
  readonly minAgeMs?: number;
  /** Passes closer together than this are skipped (default 30 s): listing every engine is not free. */
  readonly intervalMs?: number;
}

/**
 * Remove replicas nothing claims.
 *
 * Given an online engine holding a volume named like a control-plane replica (`r-…`)
 * that is older than `minAgeMs`,
 * when no replica spec and no pending create names it (a create rolled back while the
 * node was away, a volume deleted while its node was offline, a replica the node-loss
 * reconciler replaced),
 * then it is unexported and deleted. Engine volumes with other names are an operator's
 * and are never touched. Also: a replica spec marked faulted whose node is back online
 * and whose volume again has all its healthy replicas (none awaiting a rebuild) is
 * removed, engine copy and spec.
 * Engine volumes are listed before the specs are read, so a replica being created now
 * is always seen as planned or as a spec, never as an orphan.
 */
export function cleanOrphans(options: OrphanOptions = {}): Reconciler {
  const minAgeMs = options.minAgeMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 30_000;
  let lastRunMs = -Infinity;
  return {
    name: 'orphans',
    async run(ctx) {
      if (ctx.now() - lastRunMs < intervalMs) return 0;
      lastRunMs = ctx.now();
      const onEngines = await engineReplicas(ctx);
      const claimed = new Set<string>();
      for (const rec of await listRecords<StoredVolume, VolumeOp>(ctx.store, kindPrefixOf(ResourceKind.Volume))) {
        const op = rec.record.pending?.op;
        if (op?.type === 'create') for (const p of op.replicas) claimed.add(p.id);
      }
      const specs = await listSpecs<StoredReplica>(ctx.store, ResourceKind.Replica);
      for (const r of specs) claimed.add(r.id);
      let changed = 0;
      const now = ctx.now();
      for (const e of onEngines) {
        if (claimed.has(e.name) || now - e.createdMs < minAgeMs) continue;
        try {
          if (await removeReplica(ctx, { id: e.name, poolId: poolIdOf(e.nodeId, e.pool), nodeId: e.nodeId })) {
            ctx.log.info({ node: e.nodeId, pool: e.pool, replica: e.name }, 'orphan replica removed');
            changed++;
          }
        } catch (err) {
          ctx.log.warn({ node: e.nodeId, replica: e.name, code: errorCode(err) }, 'cannot remove orphan replica yet');
        }
      }
      return changed + await retireFaulted(ctx, specs);
    },
  };
}

interface EngineReplicaRef {
  readonly nodeId: string;
  readonly pool: string;
  readonly name: string;
  readonly createdMs: number;
}

async function engineReplicas(ctx: ServiceContext): Promise<EngineReplicaRef[]> {
  const out: EngineReplicaRef[] = [];
  await eachOnlinePool(ctx, 'replicas', async (nodeId, engine, pool) => {
    for (const v of await engine.listReplicas(pool)) {
      if (!v.name.startsWith(REPLICA_NAME_PREFIX)) continue;
      const created = Date.parse(v.createdAt);
      out.push({ nodeId, pool, name: v.name, createdMs: Number.isNaN(created) ? 0 : created });
    }
  });
  return out;
}

/**
 * Calls `each` for every online pool of every online node. A node whose engine fails is
 * logged and skipped (NOT_IMPLEMENTED silently: an engine without the feature holds none).
 */
export async function eachOnlinePool(
  ctx: ServiceContext, what: string, each: (nodeId: string, engine: EngineApi, pool: string) => Promise<void>,
): Promise<void> {
  for (const node of ctx.registry.fleet().nodes) {
    if (!ctx.nodeOnline(node.id)) continue;
    try {
      const engine = await ctx.engineOf(node.id);
      for (const pool of await engine.listPools()) {
        if (pool.state === 'online') await each(node.id, engine, pool.name);
      }
    } catch (err) {
      if (errorCode(err) !== 'NOT_IMPLEMENTED') ctx.log.warn({ node: node.id, code: errorCode(err) }, `cannot list ${what} of node`);
    }
  }
}

async function retireFaulted(ctx: ServiceContext, specs: readonly StoredReplica[]): Promise<number> {
  let changed = 0;
  const healthyByVolume = new Map<string, number>();
  const rebuilding = new Set<string>();
  for (const r of specs) {
    if (r.awaitingRebuild === true) rebuilding.add(r.volumeId);
    else if (r.faulted === undefined && r.lifecycle === 'created') healthyByVolume.set(r.volumeId, (healthyByVolume.get(r.volumeId) ?? 0) + 1);
  }
  const wanted = new Map<string, number>();
  for (const v of await listSpecs<StoredVolume>(ctx.store, ResourceKind.Volume)) wanted.set(v.id, v.replicas);
  for (const r of specs) {
    // While a replacement awaits its rebuild the faulted copy may be the freshest data left: keep it.
    if (r.faulted === undefined || !ctx.nodeOnline(r.nodeId) || rebuilding.has(r.volumeId)) continue;
    if ((healthyByVolume.get(r.volumeId) ?? 0) < (wanted.get(r.volumeId) ?? Infinity)) continue;
    try {
      await ctx.locks.with(volumeKey(r.volumeId), async () => {
        await removeReplica(ctx, r);
        await deleteSpec(ctx.store, replicaKey(r.id), ctx.fence());
      });
      ctx.log.info({ volume: r.volumeId, replica: r.id }, 'faulted replica retired');
      changed++;
    } catch (err) {
      ctx.log.warn({ replica: r.id, code: errorCode(err) }, 'cannot retire faulted replica yet');
    }
  }
  return changed;
}
