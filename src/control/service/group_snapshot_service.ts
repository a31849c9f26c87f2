import { createHash } from 'node:crypto';
import { IntentLog, OperationInProgressError, type Ticket } from '../model/intent_log.ts';
import type { GroupSnapshotSpec } from '../model/group_snapshot_spec.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import { ResourceKind, SpecLifecycle, specKey } from '../model/spec_common.ts';
import type { ServiceContext } from './service_context.ts';
import { GroupSnapshotExistsError, GroupSnapshotNotFoundError, InvalidArgumentError, VolumeNotFoundError } from './service_errors.ts';
import { cutAtOnePoint, possibleCopies } from './snapshot_barrier.ts';
import { removeSnapshotCopies, resumeOrBeginDelete } from './snapshot_copies.ts';
import {
  deleteSpec, listSpecs, putSpec, readRecord, snapshotIdFor, snapshotKey, volumeKey, type StoredVolume,
} from './service_records.ts';

/** CSI leaves the bound to the plugin; one barrier holding this many nexuses stays short. */
export const GROUP_MAX_VOLUMES = 32;

export type GroupSnapshotOp =
  | { readonly type: 'create'; readonly spec: GroupSnapshotSpec; readonly members: readonly SnapshotSpec[] }
  | { readonly type: 'delete' };

export function groupSnapshotIdFor(name: string): string {
  return `g-${createHash('sha256').update(`berth-group-snapshot\0${name}`).digest('hex').slice(0, 32)}`;
}

export const groupSnapshotKey = (id: string): string => specKey(ResourceKind.GroupSnapshot, id);

/**
 * Group snapshots: one barrier across the nexuses of several volumes (cutAtOnePoint), so
 * the members are crash-consistent with each other, as a multi-volume database needs.
 * The group and its members are written under one intent on the group's key; a failed
 * or interrupted create removes every copy it may have cut (here, or by the
 * pending_group_snapshot_intents reconciler after a crash). A delete is never rolled
 * back: once begun it stays pending until every member copy is gone (a retry or the
 * reconciler finishes it). Idempotent by name.
 */
export class GroupSnapshotService {
  readonly #ctx: ServiceContext;
  readonly #log: IntentLog<GroupSnapshotSpec, GroupSnapshotOp>;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
    this.#log = new IntentLog({ store: ctx.store, fence: () => ctx.fence(), now: ctx.now });
  }

  async create(input: { name: string; volumeIds: readonly string[] }): Promise<{ group: GroupSnapshotSpec; created: boolean }> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    const volumeIds = [...new Set(input.volumeIds)];
    if (volumeIds.length === 0) throw new InvalidArgumentError('a group snapshot needs at least one volume');
    if (volumeIds.length > GROUP_MAX_VOLUMES) throw new InvalidArgumentError(`a group snapshot holds at most ${GROUP_MAX_VOLUMES} volumes`);
    const id = groupSnapshotIdFor(input.name);
    const key = groupSnapshotKey(id);
    return await ctx.locks.with(key, async () => {
      const current = await readRecord<GroupSnapshotSpec, GroupSnapshotOp>(ctx.store, key);
      if (current?.record.pending) throw new OperationInProgressError(key);
      const existing = current?.record.spec;
      if (existing != null) {
        if ([...existing.volumeIds].sort().join() !== [...volumeIds].sort().join()) throw new GroupSnapshotExistsError(input.name);
        return { group: existing, created: false };
      }
      const volumes: StoredVolume[] = [];
      for (const v of volumeIds) {
        const spec = (await readRecord<StoredVolume>(ctx.store, volumeKey(v)))?.record.spec;
        if (spec == null) throw new VolumeNotFoundError(v);
        volumes.push(spec);
      }
      const createdAtMs = ctx.now();
      const members: SnapshotSpec[] = [];
      for (const v of volumes) {
        members.push({
          id: snapshotIdFor(`${id}/${v.id}`), name: `${input.name}/${v.id}`, volumeId: v.id, sizeBytes: v.sizeBytes, createdAtMs,
          replicaSnapshots: await possibleCopies(ctx, v.id), groupId: id, lifecycle: SpecLifecycle.Created,
        });
      }
      const group: GroupSnapshotSpec = {
        id, name: input.name, volumeIds: volumes.map((v) => v.id), snapshotIds: members.map((m) => m.id), createdAtMs, lifecycle: SpecLifecycle.Created,
      };
      const made = await this.#log.run(key, { type: 'create', spec: group, members }, async () => {
        const cuts = await cutAtOnePoint(ctx, volumes.map((v, i) => ({ volume: v, snapshotId: members[i].id })));
        await ctx.faults.hit('group-create:after-cut');
        const at = ctx.now();
        for (const [i, m] of members.entries()) {
          await putSpec(ctx.store, snapshotKey(m.id), { ...m, createdAtMs: at, replicaSnapshots: cuts[i].copies }, ctx.fence());
          await ctx.faults.hit('group-create:after-member');
        }
        ctx.log.info({ group: id, volumes: volumes.length, drainMs: cuts.map((c) => c.drainMs ?? 0) }, 'group snapshot created');
        return { ...group, createdAtMs: at };
      }, async () => removeMembers(ctx, members));
      return { group: made as GroupSnapshotSpec, created: true };
    });
  }

  async list(): Promise<GroupSnapshotSpec[]> {
    return await listSpecs<GroupSnapshotSpec>(this.#ctx.store, ResourceKind.GroupSnapshot);
  }

  async get(id: string): Promise<GroupSnapshotSpec> {
    const r = await readRecord<GroupSnapshotSpec>(this.#ctx.store, groupSnapshotKey(id));
    if (r?.record.spec == null) throw new GroupSnapshotNotFoundError(id);
    return r.record.spec;
  }

  /** The group's member snapshots that still exist. */
  async members(group: GroupSnapshotSpec): Promise<SnapshotSpec[]> {
    return await existingMembers(this.#ctx, group.snapshotIds);
  }

  /**
   * Deletes the group and its members; not an error when it does not exist. A delete an
   * earlier request or a crash left pending is finished, not refused. If a member copy's
   * node is not online (NODE_OFFLINE), the delete stays pending: a retry, or the
   * reconciler once the node is back, removes the rest.
   */
  async delete(id: string): Promise<void> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    const key = groupSnapshotKey(id);
    await ctx.locks.with(key, async () => {
      const ticket = await resumeOrBeginDelete(ctx, this.#log, key, { type: 'delete' } as const);
      if (ticket === undefined) return;
      await finishGroupDelete(ctx, this.#log, ticket);
    });
  }
}

/** The members of a group whose records still exist, in its order. */
async function existingMembers(ctx: ServiceContext, snapshotIds: readonly string[]): Promise<SnapshotSpec[]> {
  const out: SnapshotSpec[] = [];
  for (const s of snapshotIds) {
    const spec = (await readRecord<SnapshotSpec>(ctx.store, snapshotKey(s)))?.record.spec;
    if (spec != null) out.push(spec);
  }
  return out;
}

/** Removes what is left of a group whose delete is pending, then the group's record. Throws (leaving it pending) while a copy cannot be removed. */
export async function finishGroupDelete(
  ctx: ServiceContext, log: IntentLog<GroupSnapshotSpec, GroupSnapshotOp>, ticket: Ticket<GroupSnapshotSpec, GroupSnapshotOp>,
): Promise<void> {
  await removeMembers(ctx, await existingMembers(ctx, ticket.spec?.snapshotIds ?? []));
  await log.commit(ticket, null);
}

/**
 * Removes members' copies and records (already gone is fine). A member's record goes
 * only after all its copies: while one is on a node that is not online, NODE_OFFLINE
 * (removeSnapshotCopies), so the intent that called this stays pending.
 */
export async function removeMembers(ctx: ServiceContext, members: readonly SnapshotSpec[]): Promise<void> {
  for (const m of members) {
    await removeSnapshotCopies(ctx, m.id, m.replicaSnapshots, () => ctx.faults.hit('group-remove:after-copy'));
    await deleteSpec(ctx.store, snapshotKey(m.id), ctx.fence());
  }
}
