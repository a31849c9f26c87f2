import { errorCode } from '../../util/errors.ts';
import { kindPrefix, ResourceKind } from '../model/spec_common.ts';
import type { GroupSnapshotSpec } from '../model/group_snapshot_spec.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import type { ServiceContext } from '../service/service_context.ts';
import type { GroupSnapshotOp } from '../service/group_snapshot_service.ts';
import type { SnapshotOp } from '../service/snapshot_service.ts';
import { listRecords, snapshotKey } from '../service/service_records.ts';
import { eachOnlinePool, type OrphanOptions } from './reconcile_orphans.ts';
import { everyInterval, type Reconciler } from './reconcile_types.ts';

/** How the control plane names every copy it cuts (snapshotIdFor): operators' own engine snapshots never match. */
const CONTROL_PLANE_SNAPSHOT = /^s-[0-9a-f]{32}$/;

/**
 * Remove snapshot copies nothing names.
 *
 * Given an online engine holding a snapshot named like a control-plane copy (`s-` and 32
 * hex digits) older than `minAgeMs`,
 * when no snapshot record (committed, or a pending create's or delete's) and no group
 * record (its members, or a pending create's) names that id — a copy on a node given up
 * as lost that came back, a copy a cut from a control plane killed mid-request made
 * after its create was rolled back —
 * then it is removed, under the snapshot's lock and after reading the records again.
 * Copies are listed before the records are read, so a copy being cut now belongs to a
 * create already marked pending and is claimed. Runs on the leader, like every reconciler.
 */
export function cleanSnapshotOrphans(options: OrphanOptions = {}): Reconciler {
  const minAgeMs = options.minAgeMs ?? 60_000;
  return everyInterval('snapshot_orphans', options.intervalMs ?? 30_000, async (ctx) => {
    const now = ctx.now();
    const candidates = (await engineCopies(ctx)).filter((c) => now - c.createdMs >= minAgeMs);
    let claimed = candidates.length === 0 ? new Set<string>() : await claimedIds(ctx);
    let changed = 0;
    for (const c of candidates) {
      if (claimed.has(c.name)) continue;
      try {
        const removed = await ctx.locks.with(snapshotKey(c.name), async () => {
          claimed = await claimedIds(ctx);
          if (claimed.has(c.name)) return false;
          await (await ctx.engineOf(c.nodeId)).destroySnapshot(c.pool, '', c.name);
          return true;
        });
        if (!removed) continue;
        ctx.log.info({ node: c.nodeId, pool: c.pool, snapshot: c.name }, 'orphan snapshot copy removed');
        changed++;
      } catch (err) {
        ctx.log.warn({ node: c.nodeId, snapshot: c.name, code: errorCode(err) }, 'cannot remove orphan snapshot copy yet');
      }
    }
    return changed;
  });
}

interface EngineCopy {
  readonly nodeId: string;
  readonly pool: string;
  readonly name: string;
  readonly createdMs: number;
}

async function engineCopies(ctx: ServiceContext): Promise<EngineCopy[]> {
  const out: EngineCopy[] = [];
  await eachOnlinePool(ctx, 'snapshots', async (nodeId, engine, pool) => {
    for (const s of await engine.listSnapshots(pool)) {
      if (!CONTROL_PLANE_SNAPSHOT.test(s.name)) continue;
      const created = Date.parse(s.createdAt);
      out.push({ nodeId, pool, name: s.name, createdMs: Number.isNaN(created) ? 0 : created });
    }
  });
  return out;
}

/** Every snapshot id a record names, pending or not. */
async function claimedIds(ctx: ServiceContext): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const r of await listRecords<SnapshotSpec, SnapshotOp>(ctx.store, kindPrefix(ResourceKind.Snapshot))) {
    ids.add(r.key.slice(kindPrefix(ResourceKind.Snapshot).length));
    if (r.record.spec != null) ids.add(r.record.spec.id);
    const op = r.record.pending?.op;
    if (op?.type === 'create') ids.add(op.spec.id);
  }
  for (const r of await listRecords<GroupSnapshotSpec, GroupSnapshotOp>(ctx.store, kindPrefix(ResourceKind.GroupSnapshot))) {
    for (const id of r.record.spec?.snapshotIds ?? []) ids.add(id);
    const op = r.record.pending?.op;
    if (op?.type === 'create') {
      for (const id of op.spec.snapshotIds) ids.add(id);
      for (const m of op.members) ids.add(m.id);
    }
  }
  return ids;
}
