import { errorCode } from '../../util/errors.ts';
import { kindPrefix, ResourceKind } from '../model/spec_common.ts';
import { IntentLog, type Ticket } from '../model/intent_log.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import type { ServiceContext } from '../service/service_context.ts';
import { readRecord, type StoredVolume, type VolumeOp } from '../service/service_records.ts';
import {
  exportVolume, isRetryable, provisionVolume, resizeVolume, teardownVolume, unexportVolume, unprovisionVolume,
} from '../service/volume_acts.ts';
import { buildNexus } from '../service/nexus_acts.ts';
import { endSyncNexus, startSyncNexus } from '../service/sync_nexus_acts.ts';
import { finishSnapshotDelete, type SnapshotOp } from '../service/snapshot_service.ts';
import { removeSnapshotCopies } from '../service/snapshot_copies.ts';
import type { Reconciler } from './reconcile_types.ts';

type Decision = { commit: StoredVolume | null } | { rollback: true };

/**
 * Finish or roll back volume operations a crash left pending.
 *
 * Given a volume record whose intent is still marked pending (its process died between
 * "pending" and "commit", or an undo failed),
 * when this reconciler runs on the leader and can reach the engines involved,
 * then the operation is carried forward with the same idempotent steps the request
 * would have run — create: every planned replica exists exactly once; delete: replicas
 * gone; publish/unpublish/resize, nexus moves and background-rebuild nexuses: done (a nexus with the
 * generation the intent recorded, never a new one) — and committed; a create whose engine refuses
 * for good (no space, pool gone, node lost) is undone and rolled back instead.
 * Operations whose engines cannot be reached yet stay pending for the next pass.
 */
export const finishPendingVolumes: Reconciler = {
  name: 'pending_volume_intents',
  async run(ctx) {
    let finished = 0;
    for (const ticket of await ctx.volumes.pending(kindPrefix(ResourceKind.Volume))) {
      const done = await ctx.locks.with(ticket.key, async () => {
        // The request that began it may have finished while we waited for the lock.
        const now = await readRecord<StoredVolume, VolumeOp>(ctx.store, ticket.key);
        if (now?.record.pending?.id !== ticket.pending.id) return false;
        const fresh = { ...ticket, revision: now.revision };
        let decision: Decision;
        try {
          decision = await decide(ctx, fresh);
        } catch (err) {
          ctx.log.warn({ key: ticket.key, op: ticket.pending.op.type, code: errorCode(err), err: errorCode(err) === undefined ? err : undefined }, 'pending operation not finished yet');
          return false;
        }
        if ('rollback' in decision) await ctx.volumes.rollback(fresh);
        else await ctx.volumes.commit(fresh, decision.commit);
        ctx.log.info({ key: ticket.key, op: ticket.pending.op.type, outcome: 'rollback' in decision ? 'rolled back' : 'committed' }, 'pending operation finished');
        return true;
      });
      if (done) finished++;
    }
    return finished;
  },
};

async function decide(ctx: ServiceContext, ticket: Ticket<StoredVolume, VolumeOp>): Promise<Decision> {
  const op = ticket.pending.op;
  const spec = ticket.spec;
  switch (op.type) {
    case 'create':
      try {
        return { commit: await provisionVolume(ctx, op) };
      } catch (err) {
        const lost = op.replicas.some((p) => ctx.registry.lost(ctx.now()).includes(p.nodeId));
        if (isRetryable(err) && !lost) throw err;
        await unprovisionVolume(ctx, op.replicas);
        return { rollback: true };
      }
    case 'delete':
      await teardownVolume(ctx, volumeIdOf(ticket.key));
      return { commit: null };
    case 'publish':
      if (spec === null) return { rollback: true };
      return { commit: await exportVolume(ctx, spec, op) };
    case 'publish-nexus':
    case 'move-nexus':
      if (spec === null) return { rollback: true };
      return { commit: await buildNexus(ctx, await endSyncNexus(ctx, spec), op) };
    case 'start-sync-nexus':
      if (spec === null) return { rollback: true };
      return { commit: await startSyncNexus(ctx, spec, op) };
    case 'end-sync-nexus':
      if (spec === null) return { rollback: true };
      return { commit: await endSyncNexus(ctx, spec) };
    case 'unpublish':
      if (spec === null) return { rollback: true };
      return { commit: await unexportVolume(ctx, spec) };
    case 'resize':
      if (spec === null) return { rollback: true };
      return { commit: await resizeVolume(ctx, spec, op.sizeBytes) };
  }
}

function volumeIdOf(key: string): string {
  return key.slice(kindPrefix(ResourceKind.Volume).length);
}

/**
 * Finish snapshot operations a crash left pending.
 *
 * Given a snapshot record marked pending,
 * when this reconciler runs on the leader,
 * then a delete is finished (every copy removed, then the spec) and a create is rolled
 * back after removing every copy engines may have cut, so a crash mid-create never leaks
 * snapshot space. While a copy's node is not online (as every node is right after a
 * control-plane restart, until its first heartbeat) the operation stays pending for a
 * later pass: rolling back then would leave that copy on its engine with nothing naming
 * it. Copies on a lost or deregistered node are given up (removeSnapshotCopies).
 */
export const finishPendingSnapshots: Reconciler = {
  name: 'pending_snapshot_intents',
  async run(ctx) {
    const log = new IntentLog<SnapshotSpec, SnapshotOp>({ store: ctx.store, fence: () => ctx.fence(), now: ctx.now });
    let finished = 0;
    for (const ticket of await log.pending(kindPrefix(ResourceKind.Snapshot))) {
      await ctx.locks.with(ticket.key, async () => {
        const now = await readRecord<SnapshotSpec, SnapshotOp>(ctx.store, ticket.key);
        if (now?.record.pending?.id !== ticket.pending.id) return;
        const fresh = { ...ticket, revision: now.revision };
        const op = ticket.pending.op;
        try {
          if (op.type === 'delete') {
            await finishSnapshotDelete(ctx, log, fresh);
          } else {
            await removeSnapshotCopies(ctx, op.spec.id, op.spec.replicaSnapshots, () => ctx.faults.hit('snapshot-remove:after-copy'));
            await log.rollback(fresh);
          }
        } catch (err) {
          ctx.log.warn({ key: ticket.key, op: op.type, code: errorCode(err) }, 'pending snapshot operation not finished yet');
          return;
        }
        ctx.log.info({ key: ticket.key, op: op.type, outcome: op.type === 'create' ? 'rolled back' : 'deleted' }, 'pending snapshot operation finished');
        finished++;
      });
    }
    return finished;
  },
};
