import { errorCode } from '../../util/errors.ts';
import { NodeStatus, type NodeSpec } from '../model/node_spec.ts';
import { ResourceKind } from '../model/spec_common.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { listSpecs, readRecord, volumeKey, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import type { Reconciler } from './reconcile_types.ts';

/** Nexus names the control plane gives (its volume ids); any other nexus is an operator's. */
const VOLUME_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * Remove nexuses no volume record claims.
 *
 * Given an online engine running a nexus named like a control-plane volume id,
 * when that volume's record (with no operation pending) names no nexus on this node
 * with this generation (neither its live one nor its background-rebuild one) — the volume was unpublished or deleted while the node was
 * away, or its nexus was moved off the node (the engine restored the old incarnation
 * at restart, fenced by the replicas but still exported) —
 * then the nexus is unexported and destroyed; the replicas keep their data.
 * Nexuses with other names are an operator's and are never touched. Runs at most once
 * per `intervalMs` (the orphan interval, default 30 s).
 */
export function cleanNexusOrphans(options: { intervalMs?: number } = {}): Reconciler {
  const intervalMs = options.intervalMs ?? 30_000;
  let lastRunMs = -Infinity;
  return { name: 'nexus_orphans', run: (ctx) => sweep(ctx) };

  async function sweep(ctx: ServiceContext): Promise<number> {
    // Listing every engine's nexuses is not free: at most once per interval.
    if (ctx.now() - lastRunMs < intervalMs) return 0;
    lastRunMs = ctx.now();
    let changed = 0;
    for (const node of await listSpecs<NodeSpec>(ctx.store, ResourceKind.Node)) {
      if (ctx.registry.state(node.id)?.status !== NodeStatus.Online) continue;
      try {
        changed += await sweepNode(ctx, node.id);
      } catch (err) {
        // An engine without the nexus API has nothing to sweep.
        if (errorCode(err) === 'NOT_IMPLEMENTED') continue;
        ctx.log.warn({ node: node.id, code: errorCode(err), message: (err as Error).message }, 'cannot sweep nexuses yet');
      }
    }
    return changed;
  }
}

async function sweepNode(ctx: ServiceContext, nodeId: string): Promise<number> {
  const engine = await ctx.engineOf(nodeId);
  let changed = 0;
  for (const n of await engine.listNexuses()) {
    if (!VOLUME_ID.test(n.name)) continue;
    changed += await ctx.locks.with(volumeKey(n.name), async () => {
      const rec = await readRecord<StoredVolume, VolumeOp>(ctx.store, volumeKey(n.name));
      if (rec?.record.pending) return 0;
      const live = rec?.record.spec?.nexus;
      if (live !== undefined && live.nodeId === nodeId && live.generation === n.generation) return 0;
      const sync = rec?.record.spec?.syncNexus;
      if (sync !== undefined && sync.nodeId === nodeId && sync.generation === n.generation) return 0;
      await engine.unexportNexus(n.name);
      await engine.destroyNexus(n.name);
      ctx.log.info({ node: nodeId, nexus: n.name, generation: n.generation }, 'orphan nexus removed');
      return 1;
    });
  }
  return changed;
}
