import { errorCode } from '../../util/errors.ts';
import { kindPrefix, ResourceKind } from '../model/spec_common.ts';
import { IntentLog } from '../model/intent_log.ts';
import type { GroupSnapshotSpec } from '../model/group_snapshot_spec.ts';
import { readRecord } from '../service/service_records.ts';
import { finishGroupDelete, removeMembers, type GroupSnapshotOp } from '../service/group_snapshot_service.ts';
import type { Reconciler } from './reconcile_types.ts';

/**
 * Finish group snapshot operations a crash left pending.
 *
 * Given a group snapshot record marked pending,
 * when this reconciler runs on the leader,
 * then a create is rolled back after removing every member copy and record it may have
 * written (a half-cut group is not crash-consistent), and a delete is finished.
 * While a copy's node is not online (as every node is right after a control-plane
 * restart, until its first heartbeat) the operation stays pending for a later pass:
 * rolling back then would leave that copy on its engine with nothing naming it.
 */
export const finishPendingGroupSnapshots: Reconciler = {
  name: 'pending_group_snapshot_intents',
  async run(ctx) {
    const log = new IntentLog<GroupSnapshotSpec, GroupSnapshotOp>({ store: ctx.store, fence: () => ctx.fence(), now: ctx.now });
    let finished = 0;
    for (const ticket of await log.pending(kindPrefix(ResourceKind.GroupSnapshot))) {
      await ctx.locks.with(ticket.key, async () => {
        const now = await readRecord<GroupSnapshotSpec, GroupSnapshotOp>(ctx.store, ticket.key);
        if (now?.record.pending?.id !== ticket.pending.id) return;
        const fresh = { ...ticket, revision: now.revision };
        const op = ticket.pending.op;
        try {
          if (op.type === 'create') {
            await removeMembers(ctx, op.members);
            await log.rollback(fresh);
          } else {
            await finishGroupDelete(ctx, log, fresh);
          }
        } catch (err) {
          ctx.log.warn({ key: ticket.key, op: op.type, code: errorCode(err) }, 'pending group snapshot operation not finished yet');
          return;
        }
        ctx.log.info({ key: ticket.key, op: op.type, outcome: op.type === 'create' ? 'rolled back' : 'deleted' }, 'pending group snapshot operation finished');
        finished++;
      });
    }
    return finished;
  },
};
