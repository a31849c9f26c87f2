/** Reconcilers: plain async passes over the store and the engines, and the loop that runs them. */
import { finishPendingSnapshots, finishPendingVolumes } from './reconcile_pending.ts';
import { finishPendingGroupSnapshots } from './reconcile_pending_groups.ts';
import { createMissing } from './reconcile_missing.ts';
import { replaceLostReplicas } from './reconcile_node_loss.ts';
import { cleanOrphans, type OrphanOptions } from './reconcile_orphans.ts';
import { cleanSnapshotOrphans } from './reconcile_snapshot_orphans.ts';
import { moveLostNexuses } from './reconcile_nexus_move.ts';
import { reconcileNexusReplicas } from './reconcile_nexus_replicas.ts';
import { cleanNexusOrphans } from './reconcile_nexus_orphans.ts';
import { backgroundRebuild } from './reconcile_background_rebuild.ts';
import type { Reconciler } from './reconcile_types.ts';

export {
  finishPendingVolumes, finishPendingSnapshots, finishPendingGroupSnapshots, createMissing, replaceLostReplicas, moveLostNexuses, reconcileNexusReplicas,
  backgroundRebuild, cleanNexusOrphans, cleanOrphans, cleanSnapshotOrphans, type OrphanOptions,
};
export { ReconcileLoop, type LoopOptions, type PassReport, type ReconcilerStats } from './reconcile_loop.ts';
export type { Reconciler } from './reconcile_types.ts';

/**
 * The standard chain, in the order a pass runs them: finish what crashed first; fault
 * and replace lost replicas before the nexus moves (so it is not rebuilt over a dead
 * copy); create replacements, then add them to the live nexus — or, on a volume nobody
 * has published, rebuild them through a nexus of its own.
 */
export function defaultReconcilers(options: { orphans?: OrphanOptions } = {}): Reconciler[] {
  return [
    finishPendingVolumes, finishPendingSnapshots, finishPendingGroupSnapshots, replaceLostReplicas, moveLostNexuses, createMissing,
    reconcileNexusReplicas, backgroundRebuild, cleanNexusOrphans({ intervalMs: options.orphans?.intervalMs }), cleanOrphans(options.orphans),
    cleanSnapshotOrphans(options.orphans),
  ];
}
