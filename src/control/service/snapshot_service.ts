import { IntentLog, OperationInProgressError, type Ticket } from '../model/intent_log.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import type { ServiceContext } from './service_context.ts';
import {
  InvalidArgumentError, SnapshotExistsError, SnapshotNotFoundError, VolumeNotFoundError, VolumeNotReadyError,
} from './service_errors.ts';
import { newReplicaId } from './replica_operations.ts';
import { cutAtOnePoint, possibleCopies } from './snapshot_barrier.ts';
import { removeSnapshotCopies, resumeOrBeginDelete } from './snapshot_copies.ts';
import { seededPlans } from './volume_placement.ts';
import {
  listSpecs, readRecord, snapshotIdFor, snapshotKey, splitPoolId, volumeKey, type ReplicaPlan, type StoredVolume,
} from './service_records.ts';

export type SnapshotOp = { readonly type: 'create'; readonly spec: SnapshotSpec } | { readonly type: 'delete' };

/**
 * Snapshots are cut by the engines, on every in-sync replica of a volume, at one point
 * in time: the volume's nexus holds new writes and drains those in flight, each in-sync
 * replica's engine cuts its copy, the nexus resumes (snapshot_barrier.ts). Every copy
 * thus holds exactly the writes acknowledged before the barrier, so any one of them can
 * serve a restore. The engine names each copy after the snapshot id. Idempotent by name
 * like volumes; a failed create removes every copy it may have made.
 */
export class SnapshotService {
  readonly #ctx: ServiceContext;
  readonly #log: IntentLog<SnapshotSpec, SnapshotOp>;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
    this.#log = new IntentLog({ store: ctx.store, fence: () => ctx.fence(), now: ctx.now });
  }

  async create(input: { name: string; volumeId: string }): Promise<{ snapshot: SnapshotSpec; created: boolean }> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    const id = snapshotIdFor(input.name);
    const key = snapshotKey(id);
    return await ctx.locks.with(key, async () => {
      const current = await readRecord<SnapshotSpec, SnapshotOp>(ctx.store, key);
      if (current?.record.pending) throw new OperationInProgressError(key);
      const existing = current?.record.spec;
      if (existing != null) {
        if (existing.volumeId !== input.volumeId) throw new SnapshotExistsError(input.name);
        return { snapshot: existing, created: false };
      }
      const volume = (await readRecord<StoredVolume>(ctx.store, volumeKey(input.volumeId)))?.record.spec;
      if (volume == null) throw new VolumeNotFoundError(input.volumeId);
      // Pending, the spec names every replica a copy may land on, so an undo (or the reconciler after a crash) finds them all.
      const base: SnapshotSpec = {
        id, name: input.name, volumeId: volume.id, sizeBytes: volume.sizeBytes, createdAtMs: ctx.now(),
        replicaSnapshots: await possibleCopies(ctx, volume.id), lifecycle: SpecLifecycle.Created,
      };
      const made = await this.#log.run(key, { type: 'create', spec: base }, async () => {
        const [cut] = await cutAtOnePoint(ctx, [{ volume, snapshotId: id }]);
        await ctx.faults.hit('snapshot-create:after-cut');
        ctx.log.info({ snapshot: id, volume: volume.id, copies: cut.copies.length, drainMs: cut.drainMs }, 'snapshot created');
        return { ...base, createdAtMs: ctx.now(), replicaSnapshots: cut.copies };
      }, async () => removeSnapshotCopies(ctx, id, base.replicaSnapshots, () => ctx.faults.hit('snapshot-remove:after-copy')));
      return { snapshot: made as SnapshotSpec, created: true };
    });
  }

  async list(volumeId?: string): Promise<SnapshotSpec[]> {
    const all = await listSpecs<SnapshotSpec>(this.#ctx.store, ResourceKind.Snapshot);
    return volumeId === undefined ? all : all.filter((s) => s.volumeId === volumeId);
  }

  async get(id: string): Promise<SnapshotSpec> {
    const r = await readRecord<SnapshotSpec>(this.#ctx.store, snapshotKey(id));
    if (r?.record.spec == null) throw new SnapshotNotFoundError(id);
    return r.record.spec;
  }

  /**
   * Not an error when the snapshot does not exist. A delete an earlier request or a crash
   * left pending is finished, not refused; one is never rolled back. If a copy's node is
   * not online (NODE_OFFLINE), the delete stays pending: a retry, or the
   * pending_snapshot_intents reconciler once the node is back, removes the rest.
   */
  async delete(id: string): Promise<void> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    const key = snapshotKey(id);
    await ctx.locks.with(key, async () => {
      const ticket = await resumeOrBeginDelete(ctx, this.#log, key, { type: 'delete' } as const);
      if (ticket === undefined) return;
      await finishSnapshotDelete(ctx, this.#log, ticket);
    });
  }
}

/** Removes the copies of a snapshot whose delete is pending, then its record. Throws (leaving it pending) while a copy cannot be removed. */
export async function finishSnapshotDelete(
  ctx: ServiceContext, log: IntentLog<SnapshotSpec, SnapshotOp>, ticket: Ticket<SnapshotSpec, SnapshotOp>,
): Promise<void> {
  const spec = ticket.spec;
  if (spec != null) await removeSnapshotCopies(ctx, spec.id, spec.replicaSnapshots, () => ctx.faults.hit('snapshot-remove:after-copy'));
  await log.commit(ticket, null);
}

/**
 * Where a volume restored from a snapshot goes. Every in-sync replica holds a copy cut at
 * the same point (snapshot_barrier.ts), and an engine restores within a pool instantly
 * (copy-on-write), so each replica is seeded from the copy in its own pool: one per copy
 * on an online node, on distinct nodes, up to the replica count. Only when fewer copies
 * are reachable than replicas wanted are the rest placed as usual (spread from the seeds),
 * created blank and rebuilt from them by a nexus — background_rebuild's, or the first
 * publish's if that comes first.
 */
export async function planFromSnapshot(ctx: ServiceContext, volume: StoredVolume): Promise<ReplicaPlan[]> {
  const id = volume.sourceSnapshotId!;
  const rec = (await readRecord<SnapshotSpec, SnapshotOp>(ctx.store, snapshotKey(id)))?.record;
  const snap = rec?.spec;
  // A delete once begun is never rolled back and may have removed copies already: the snapshot is gone.
  if (snap == null || rec?.pending?.op.type === 'delete') throw new SnapshotNotFoundError(id);
  if (volume.sizeBytes < snap.sizeBytes) {
    throw new InvalidArgumentError(`sizeBytes ${volume.sizeBytes} is smaller than the snapshot (${snap.sizeBytes})`);
  }
  const copies = snap.replicaSnapshots.map((c) => ({ id: newReplicaId(), poolId: c.poolId, nodeId: splitPoolId(c.poolId).nodeId }));
  const online = copies.filter((c) => ctx.nodeOnline(c.nodeId));
  if (online.length === 0) throw new VolumeNotReadyError(id, 'a snapshot with no copy on an online node');
  return await seededPlans(ctx, volume, online);
}
