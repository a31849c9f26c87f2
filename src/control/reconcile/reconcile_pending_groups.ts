import { kindPrefix, ResourceKind } from '../model/spec_common.ts';
import { IntentLog } from '../model/intent_log.ts';
import type { GroupSnapshotSpec } from '../model/group_snapshot_spec.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import { readRecord, snapshotKey } from '../service/service_records.ts';
import { removeMembers, type GroupSnapshotOp } from '../service/group_snapshot_service.ts';
import type { Reconciler } from './reconcile_types.ts';

/**
 * Finish group snapshot operations a crash left pending.
 *
 * Given a group snapshot record marked pending,
 * when this reconciler runs on the leader,
 * then a create is rolled back after removing every member copy and record it may have
 * written (a half-cut group is not crash-consistent), and a delete is finished.
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
        if (op.type === 'create') {
          await removeMembers(ctx, op.members);
          await log.rollback(fresh);
        } else {
          const members: SnapshotSpec[] = [];
          for (const id of ticket.spec?.snapshotIds ?? []) {
            const m = (await readRecord<SnapshotSpec>(ctx.store, snapshotKey(id)))?.record.spec;
            if (m != null) members.push(m);
          }
          await removeMembers(ctx, members);
          await log.commit(fresh, null);
        }
        finished++;
      });
    }
    return finished;
  },
};
