import { errorCode } from '../../util/errors.ts';
import { OperationInProgressError, type IntentLog, type Ticket } from '../model/intent_log.ts';
import { readRecord, splitPoolId } from './service_records.ts';
import type { ServiceContext } from './service_context.ts';
import type { SnapshotCopy } from './snapshot_barrier.ts';

/**
 * Deletes a snapshot's copies from their engines (already gone is fine). The pool id
 * names the node, so this works after the source volume and its replicas are deleted:
 * snapshots outlive their volumes.
 *
 * A copy on a node that is not online fails the call with NODE_OFFLINE, so the intent
 * that called this stays pending (a retry or a later reconciler pass finishes it) rather
 * than forgetting a copy that would then hold pool space for ever with nothing naming
 * it. Right after a control-plane restart every node is "unknown" until its first
 * heartbeat: the same wait. Copies on a lost node (offline past the loss grace period,
 * its replicas replaced) or on a node no longer registered are given up.
 * `afterCopy` runs after each copy (a test fault point).
 */
export async function removeSnapshotCopies(
  ctx: ServiceContext, id: string, copies: readonly SnapshotCopy[], afterCopy?: () => Promise<void>,
): Promise<void> {
  const lost = new Set(ctx.registry.lost(ctx.now()));
  for (const c of copies) {
    await removeCopy(ctx, id, c, lost);
    if (afterCopy !== undefined) await afterCopy();
  }
}

async function removeCopy(ctx: ServiceContext, id: string, c: SnapshotCopy, lost: ReadonlySet<string>): Promise<void> {
  const { nodeId, pool } = splitPoolId(c.poolId);
  if (lost.has(nodeId)) return;
  try {
    await (await ctx.engineOf(nodeId)).destroySnapshot(pool, c.replicaId, id);
  } catch (err) {
    // NODE_NOT_FOUND: deregistered, nothing left to reach. NOT_IMPLEMENTED: an engine without snapshots made no copy.
    if (errorCode(err) !== 'NODE_NOT_FOUND' && errorCode(err) !== 'NOT_IMPLEMENTED') throw err;
  }
}

/**
 * The delete of the record under `key` (a snapshot or a group): the one an earlier
 * request or a crash left pending, resumed rather than refused, or a new one; undefined
 * when there is nothing to delete. OPERATION_IN_PROGRESS while a create is pending.
 * A delete is never rolled back: once begun, copies may be gone already.
 */
export async function resumeOrBeginDelete<S, Op extends { readonly type: string }>(
  ctx: ServiceContext, log: IntentLog<S, Op>, key: string, op: Op,
): Promise<Ticket<S, Op> | undefined> {
  const current = await readRecord<S, Op>(ctx.store, key);
  if (current === undefined) return undefined;
  const pending = current.record.pending;
  if (pending?.op.type === 'create') throw new OperationInProgressError(key);
  if (pending == null) return current.record.spec == null ? undefined : await log.begin(key, op);
  return { key, spec: current.record.spec, pending, revision: current.revision };
}
