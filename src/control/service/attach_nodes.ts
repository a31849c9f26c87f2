import { BerthError } from '../../util/errors.ts';
import { KEY_ROOT } from '../model/spec_common.ts';
import type { NodeSpec } from '../model/node_spec.ts';
import type { ServiceContext } from './service_context.ts';
import { InvalidArgumentError, NodeNotFoundError } from './service_errors.ts';
import { deleteSpec, listRecords, nodeKey, putSpec, readRecord } from './service_records.ts';

/**
 * Where volumes can be attached. The CSI node plugin registers its node when it starts
 * (the facts of its NodeGetInfo plus the initiator name it logs in with), so a node
 * that runs no engine — a compute-only node, with its pods' drives on storage nodes —
 * can be published to. An engine node without a registration still works through its
 * `initiatorIqn` label (older deployments, hand-run engines).
 */
export interface AttachNode {
  readonly id: string;
  /** The iSCSI initiator name the node logs in with; the export's ACL admits it. */
  readonly initiatorIqn: string;
  /** The node plugin's topology zone, if it has one. */
  readonly zone?: string;
  /** CSI max_volumes_per_node: ControllerPublish refuses one more. */
  readonly maxVolumes?: number;
  readonly registeredAtMs: number;
}

export interface AttachNodeInput {
  readonly initiatorIqn: string;
  readonly zone?: string;
  readonly maxVolumes?: number;
}

/** Node label that carries an engine node's initiator name, when no node plugin registered one. */
export const INITIATOR_LABEL = 'initiatorIqn';
export const IQN = /^(iqn\.[0-9]{4}-[0-9]{2}\.[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[A-Za-z0-9.:_-]+)?|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/;
export const ATTACH_NODES_PREFIX = `${KEY_ROOT}attachnodes/`;
const attachNodeKey = (id: string): string => `${ATTACH_NODES_PREFIX}${id}`;

/** The node already holds as many published volumes as its node plugin allows (CSI RESOURCE_EXHAUSTED). */
export class NodeVolumeLimitError extends BerthError {
  constructor(nodeId: string, max: number) {
    super('TOO_MANY_VOLUMES', `node ${nodeId} already has ${max} volume(s) published, its node plugin's max_volumes_per_node`);
  }
}

export class AttachNodeService {
  readonly #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** Idempotent: the same facts again write nothing. */
  async register(id: string, input: AttachNodeInput): Promise<AttachNode> {
    const ctx = this.#ctx;
    await ctx.requireLeader();
    if (!IQN.test(input.initiatorIqn)) throw new InvalidArgumentError(`initiatorIqn '${input.initiatorIqn.slice(0, 64)}' is not an iSCSI name`);
    const key = attachNodeKey(id);
    return await ctx.locks.with(key, async () => {
      const prev = (await readRecord<AttachNode>(ctx.store, key))?.record.spec ?? undefined;
      const same = prev !== undefined && prev.initiatorIqn === input.initiatorIqn && prev.zone === input.zone && prev.maxVolumes === input.maxVolumes;
      if (same) return prev;
      const next: AttachNode = {
        id, initiatorIqn: input.initiatorIqn, registeredAtMs: ctx.now(),
        ...(input.zone !== undefined ? { zone: input.zone } : {}),
        ...(input.maxVolumes !== undefined ? { maxVolumes: input.maxVolumes } : {}),
      };
      await putSpec(ctx.store, key, next, ctx.fence());
      ctx.log.info({ node: id, initiatorIqn: next.initiatorIqn, zone: next.zone, maxVolumes: next.maxVolumes }, 'node plugin registered');
      return next;
    });
  }

  async get(id: string): Promise<AttachNode> {
    const found = await attachNodeOf(this.#ctx, id);
    if (found === undefined) throw new NodeNotFoundError(id);
    return found;
  }

  async list(): Promise<AttachNode[]> {
    const out: AttachNode[] = [];
    for (const r of await listRecords<AttachNode>(this.#ctx.store, ATTACH_NODES_PREFIX)) if (r.record.spec !== null) out.push(r.record.spec);
    return out;
  }

  /** Not an error when it is not registered. */
  async remove(id: string): Promise<void> {
    await this.#ctx.requireLeader();
    await deleteSpec(this.#ctx.store, attachNodeKey(id), this.#ctx.fence());
  }
}

export async function attachNodeOf(ctx: ServiceContext, id: string): Promise<AttachNode | undefined> {
  return (await readRecord<AttachNode>(ctx.store, attachNodeKey(id)))?.record.spec ?? undefined;
}

/**
 * Who logs in from a node, and its volume limit: the node plugin's registration, else the
 * engine node's label; NODE_NOT_FOUND when the node is neither.
 */
export async function attachFacts(ctx: ServiceContext, nodeId: string): Promise<{ initiatorIqn?: string; maxVolumes?: number }> {
  const attach = await attachNodeOf(ctx, nodeId);
  if (attach !== undefined) return { initiatorIqn: attach.initiatorIqn, ...(attach.maxVolumes !== undefined ? { maxVolumes: attach.maxVolumes } : {}) };
  const engineNode = (await readRecord<NodeSpec>(ctx.store, nodeKey(nodeId)))?.record.spec ?? undefined;
  if (engineNode === undefined) throw new NodeNotFoundError(nodeId);
  return { initiatorIqn: engineNode.labels[INITIATOR_LABEL] };
}
