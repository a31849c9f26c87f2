import type { PoolSpec } from '../model/pool_spec.ts';
import { PoolStatus } from '../model/pool_spec.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import type { FleetPool } from '../placement/placement_types.ts';
import { BerthError } from '../../util/errors.ts';
import type { ServiceContext } from './service_context.ts';
import { InvalidArgumentError, PoolNotFoundError } from './service_errors.ts';
import { deleteSpec, listSpecs, poolIdOf, poolKey, putSpec, readRecord, splitPoolId, type StoredReplica } from './service_records.ts';

export interface PoolView extends PoolSpec {
  readonly name: string;
  readonly status: PoolStatus;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly committedBytes: number;
  readonly replicaCount: number;
}

export interface CreatePoolInput {
  readonly nodeId: string;
  readonly name: string;
  readonly path?: string;
  readonly sizeBytes?: number;
  readonly overcommitRatio?: number;
}

export class PoolNotEmptyError extends BerthError {
  constructor(id: string, replicas: number) {
    super('POOL_NOT_EMPTY', `pool ${id} still holds ${replicas} replica(s)`);
  }
}

/** Media comes from the engine's heartbeat (its `media` label); the spec shows 'ssd' until then. */

/**
 * Pools are created on a node's engine through here, or appear by themselves in the
 * node's heartbeat when an operator made them on the engine. Capacity and health come
 * from the registry (the last heartbeat); the spec holds what the control plane decides
 * (over-commit ratio).
 */
export class PoolService {
  readonly #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  async list(): Promise<PoolView[]> {
    const reported = new Map(this.#ctx.registry.fleet().pools.map((p) => [p.id, p]));
    return (await listSpecs<PoolSpec>(this.#ctx.store, ResourceKind.Pool)).map((p) => this.#view(p, reported));
  }

  async get(id: string): Promise<PoolView> {
    const r = await readRecord<PoolSpec>(this.#ctx.store, poolKey(id));
    if (r?.record.spec == null) throw new PoolNotFoundError(id);
    return this.#view(r.record.spec);
  }

  /** Creating a pool that exists on the engine with the same name is POOL_EXISTS (the engine's code). */
  async create(input: CreatePoolInput): Promise<PoolView> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    checkRatio(input.overcommitRatio);
    const id = poolIdOf(input.nodeId, input.name);
    return await ctx.locks.with(poolKey(id), async () => {
      const engine = await ctx.engineOf(input.nodeId);
      const made = await engine.createPool({ name: input.name, path: input.path, sizeBytes: input.sizeBytes });
      const spec: PoolSpec = {
        id, nodeId: input.nodeId, disks: input.path !== undefined ? [input.path] : [], media: 'ssd', tags: [],
        overcommitRatio: input.overcommitRatio ?? 1, lifecycle: SpecLifecycle.Created,
      };
      await putSpec(ctx.store, poolKey(id), spec, ctx.fence());
      ctx.registry.setOvercommitRatio(id, spec.overcommitRatio);
      return { ...this.#view(spec), status: made.state === 'online' ? PoolStatus.Online : PoolStatus.Faulted, capacityBytes: made.capacityBytes ?? 0 };
    });
  }

  async setOvercommitRatio(id: string, ratio: number): Promise<PoolView> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    checkRatio(ratio);
    return await ctx.locks.with(poolKey(id), async () => {
      const current = await this.get(id);
      const { name: _n, status: _s, capacityBytes: _c, usedBytes: _u, committedBytes: _m, replicaCount: _r, ...spec } = current;
      const next: PoolSpec = { ...spec, overcommitRatio: ratio };
      await putSpec(ctx.store, poolKey(id), next, ctx.fence());
      ctx.registry.setOvercommitRatio(id, ratio);
      return this.#view(next);
    });
  }

  /** Destroys the pool on its engine; refused while replica specs still point at it. */
  async delete(id: string): Promise<void> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    await ctx.locks.with(poolKey(id), async () => {
      const r = await readRecord<PoolSpec>(ctx.store, poolKey(id));
      if (r?.record.spec == null) return;
      const used = (await listSpecs<StoredReplica>(ctx.store, ResourceKind.Replica)).filter((x) => x.poolId === id).length;
      if (used > 0) throw new PoolNotEmptyError(id, used);
      const { nodeId, pool } = splitPoolId(id);
      await (await ctx.engineOf(nodeId)).destroyPool(pool);
      await deleteSpec(ctx.store, poolKey(id), ctx.fence());
    });
  }

  #view(p: PoolSpec, fleet?: ReadonlyMap<string, FleetPool>): PoolView {
    const reported = fleet !== undefined ? fleet.get(p.id) : this.#ctx.registry.fleet().pools.find((x) => x.id === p.id);
    const online = reported !== undefined && this.#ctx.nodeOnline(p.nodeId);
    return {
      ...p,
      name: splitPoolId(p.id).pool,
      status: !online ? PoolStatus.Unknown : reported.health === 'online' ? PoolStatus.Online : reported.health === 'degraded' ? PoolStatus.Degraded : PoolStatus.Faulted,
      capacityBytes: reported?.capacityBytes ?? 0,
      usedBytes: reported?.usedBytes ?? 0,
      committedBytes: reported?.committedBytes ?? 0,
      replicaCount: reported?.replicaCount ?? 0,
    };
  }
}

function checkRatio(ratio: number | undefined): void {
  if (ratio !== undefined && !(Number.isFinite(ratio) && ratio >= 1 && ratio <= 100)) {
    throw new InvalidArgumentError('overcommitRatio must be between 1 and 100');
  }
}
