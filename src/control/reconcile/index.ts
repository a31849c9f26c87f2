/** Reconcilers: plain async passes over the store and the engines, and the loop that runs them. */
import { finishPendingSnapshots, finishPendingVolumes } from './reconcile_pending.ts';
import { createMissing } from './reconcile_missing.ts';
import { replaceLostReplicas } from './reconcile_node_loss.ts';
import { cleanOrphans, type OrphanOptions } from './reconcile_orphans.ts';
import type { Reconciler } from './reconcile_types.ts';

export { finishPendingVolumes, finishPendingSnapshots, createMissing, replaceLostReplicas, cleanOrphans, type OrphanOptions };
export { ReconcileLoop, type LoopOptions, type PassReport } from './reconcile_loop.ts';
export type { Reconciler } from './reconcile_types.ts';

/** The standard chain, in the order a pass runs them: finish what crashed first. */
export function defaultReconcilers(options: { orphans?: OrphanOptions } = {}): Reconciler[] {
  return [finishPendingVolumes, finishPendingSnapshots, replaceLostReplicas, createMissing, cleanOrphans(options.orphans)];
}
