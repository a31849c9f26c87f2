import type { NodeSpec, NodeState } from '../model/node_spec.ts';
import type { PoolSpec } from '../model/pool_spec.ts';
import { ResourceKind, SpecLifecycle } from '../model/spec_common.ts';
import { parseHeartbeat, type Heartbeat } from '../registry/registry_heartbeat.ts';
import type { ServiceContext } from './service_context.ts';
import { listSpecs, nodeKey, poolKey, putSpec, readRecord } from './service_records.ts';

export interface NodeView extends NodeSpec {
  readonly state: NodeState;
}

/** Over-commit ratio of a pool first seen in a heartbeat; change it per pool later. */
export const DEFAULT_OVERCOMMIT_RATIO = 1;

/**
 * Nodes register and stay alive through heartbeats. Every instance feeds its own
 * registry (so a follower that becomes leader already knows who is alive); only the
 * leader writes node and pool specs, and only when something changed, so a heartbeat
 * costs no store write in the steady state.
 */
export class NodeService {
  readonly #ctx: ServiceContext;
  /** What was last written per node, to skip identical writes. */
  readonly #written = new Map<string, string>();

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** Load node and pool specs into the registry after a start or on becoming leader. */
  async restore(): Promise<void> {
    const ctx = this.#ctx;
    for (const n of await listSpecs<NodeSpec>(ctx.store, ResourceKind.Node)) {
      ctx.registry.restore(n.id, n.cordoned);
      ctx.registry.cordon(n.id, n.cordoned);
    }
    for (const p of await listSpecs<PoolSpec>(ctx.store, ResourceKind.Pool)) ctx.registry.setOvercommitRatio(p.id, p.overcommitRatio);
    this.#written.clear();
  }

  async heartbeat(body: unknown): Promise<Heartbeat> {
    const ctx = this.#ctx;
    const hb = parseHeartbeat(body);
    ctx.registry.heartbeat(hb, ctx.now());
    if (ctx.leadership.isLeader()) await this.#record(hb);
    return hb;
  }

  async #record(hb: Heartbeat): Promise<void> {
    const ctx = this.#ctx;
    const current = await readRecord<NodeSpec>(ctx.store, nodeKey(hb.nodeId));
    const cordoned = current?.record.spec?.cordoned ?? false;
    const spec: NodeSpec = {
      id: hb.nodeId, endpoint: hb.endpoint, zone: hb.zone, storageGroup: hb.storageGroup,
      labels: hb.labels, cordoned, lifecycle: SpecLifecycle.Created,
    };
    const text = JSON.stringify([spec, hb.pools.map((p) => [p.id, p.media, p.tags])]);
    if (this.#written.get(hb.nodeId) === text) return;
    if (JSON.stringify(current?.record.spec) !== JSON.stringify(spec)) await putSpec(ctx.store, nodeKey(spec.id), spec, ctx.fence());
    for (const p of hb.pools) {
      const existing = await readRecord<PoolSpec>(ctx.store, poolKey(p.id));
      const prev = existing?.record.spec;
      const pool: PoolSpec = {
        id: p.id, nodeId: hb.nodeId, disks: prev?.disks ?? [], media: p.media, tags: p.tags,
        overcommitRatio: prev?.overcommitRatio ?? DEFAULT_OVERCOMMIT_RATIO, lifecycle: SpecLifecycle.Created,
      };
      if (JSON.stringify(prev) !== JSON.stringify(pool)) await putSpec(ctx.store, poolKey(p.id), pool, ctx.fence());
      ctx.registry.setOvercommitRatio(p.id, pool.overcommitRatio);
    }
    this.#written.set(hb.nodeId, text);
  }

  async list(): Promise<NodeView[]> {
    const nodes = await listSpecs<NodeSpec>(this.#ctx.store, ResourceKind.Node);
    return nodes.map((n) => this.#view(n));
  }

  async get(id: string): Promise<NodeView> {
    return this.#view(await this.#ctx.node(id));
  }

  /** A cordoned node keeps its replicas and gets no new ones. */
  async cordon(id: string, cordoned: boolean): Promise<NodeView> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    return await ctx.locks.with(nodeKey(id), async () => {
      const node = await ctx.node(id);
      const next = { ...node, cordoned };
      await putSpec(ctx.store, nodeKey(id), next, ctx.fence());
      ctx.registry.cordon(id, cordoned);
      this.#written.delete(id);
      return this.#view(next);
    });
  }

  #view(n: NodeSpec): NodeView {
    const state = this.#ctx.registry.state(n.id) ?? { id: n.id, status: 'unknown', lastHeartbeatMs: 0, engineVersion: '' };
    return { ...n, state };
  }
}
