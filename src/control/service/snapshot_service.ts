import { IntentLog } from '../model/intent_log.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import { OperationInProgressError } from '../model/intent_log.ts';
import type { ServiceContext } from './service_context.ts';
import { SnapshotExistsError, SnapshotNotFoundError, VolumeNotFoundError } from './service_errors.ts';
import { listSpecs, readRecord, replicasOf, snapshotIdFor, snapshotKey, splitPoolId, volumeKey, type StoredVolume } from './service_records.ts';

type SnapshotOp = { readonly type: 'create'; readonly spec: SnapshotSpec } | { readonly type: 'delete' };

/**
 * Snapshots are cut on every healthy replica of a volume. Idempotent by name like
 * volumes. The engine has no snapshot API yet, so a create ends in NOT_IMPLEMENTED and
 * is rolled back; the records, the intent handling and the REST routes are in place.
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
      const replicas = (await replicasOf(ctx.store, volume.id)).filter((r) => r.faulted === undefined);
      const spec: SnapshotSpec = {
        id, name: input.name, volumeId: volume.id, sizeBytes: volume.sizeBytes, createdAtMs: ctx.now(),
        replicaSnapshots: replicas.map((r) => ({ replicaId: r.id, poolId: r.poolId })), lifecycle: SpecLifecycle.Created,
      };
      const made = await this.#log.run(key, { type: 'create', spec }, async () => {
        for (const r of replicas) {
          const engine = await ctx.engineOf(r.nodeId);
          await engine.createSnapshot({ pool: splitPoolId(r.poolId).pool, volume: r.id, name: id });
        }
        return spec;
      });
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

  /** Not an error when the snapshot does not exist. */
  async delete(id: string): Promise<void> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    const key = snapshotKey(id);
    await ctx.locks.with(key, async () => {
      const current = await readRecord<SnapshotSpec>(ctx.store, key);
      const spec = current?.record.spec;
      if (spec == null) return;
      await this.#log.run(key, { type: 'delete' }, async () => {
        for (const c of spec.replicaSnapshots) {
          const replica = (await replicasOf(ctx.store, spec.volumeId)).find((r) => r.id === c.replicaId);
          if (replica === undefined || !ctx.nodeOnline(replica.nodeId)) continue;
          await (await ctx.engineOf(replica.nodeId)).destroySnapshot(splitPoolId(c.poolId).pool, c.replicaId, id);
        }
        return null;
      });
    });
  }
}
