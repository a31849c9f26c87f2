import type { Logger } from '../../util/log.ts';
import { IntentLog } from '../model/intent_log.ts';
import type { NodeSpec } from '../model/node_spec.ts';
import { NodeStatus } from '../model/node_spec.ts';
import type { NodeRegistry } from '../registry/node_registry.ts';
import type { Fence, Store } from '../store/store.ts';
import type { EngineApi, EngineConnector } from '../engine_client/engine_client_types.ts';
import { KeyedLock } from './resource_lock.ts';
import { FaultInjector } from './service_faults.ts';
import { NodeNotFoundError, NodeOfflineError, NotLeaderError } from './service_errors.ts';
import { nodeKey, readRecord, type StoredVolume, type VolumeOp } from './service_records.ts';
import type { ChapSealer } from './chap_seal.ts';

/** Who may write: the leader (always, with the SQLite store) or a follower that knows the leader. */
export interface Leadership {
  isLeader(): boolean;
  /** The leader's fence, put on every write so a deposed leader's writes are refused. */
  fence(): Fence | undefined;
  /** URL of the current leader, for followers' 503 answers. */
  leaderUrl(): Promise<string | undefined>;
}

export const ALWAYS_LEADER: Leadership = {
  isLeader: () => true,
  fence: () => undefined,
  leaderUrl: async () => undefined,
};

export interface ServiceContextOptions {
  readonly store: Store;
  readonly engines: EngineConnector;
  readonly registry: NodeRegistry;
  readonly logger: Logger;
  readonly leadership?: Leadership;
  readonly now?: () => number;
  readonly faults?: FaultInjector;
  /** Seals CHAP secrets in the store; without it (no cluster token) publishing with CHAP is refused. */
  readonly chap?: ChapSealer;
  /** Rebuild throttle mode for nexuses of volumes that set none (`--rebuild-throttle-mode`); unset: each engine's default. */
  readonly rebuildThrottleMode?: 'adaptive' | 'fixed';
}

/**
 * What every service and reconciler shares: the store, the engines, the registry, the
 * per-resource locks and the leader's fence. Built once per process.
 */
export class ServiceContext {
  readonly store: Store;
  readonly engines: EngineConnector;
  readonly registry: NodeRegistry;
  readonly log: Logger;
  readonly leadership: Leadership;
  readonly now: () => number;
  readonly faults: FaultInjector;
  readonly locks = new KeyedLock();
  readonly volumes: IntentLog<StoredVolume, VolumeOp>;
  readonly chap: ChapSealer | undefined;
  readonly rebuildThrottleMode: 'adaptive' | 'fixed' | undefined;

  constructor(o: ServiceContextOptions) {
    this.chap = o.chap;
    this.rebuildThrottleMode = o.rebuildThrottleMode;
    this.store = o.store;
    this.engines = o.engines;
    this.registry = o.registry;
    this.log = o.logger;
    this.leadership = o.leadership ?? ALWAYS_LEADER;
    this.now = o.now ?? Date.now;
    this.faults = o.faults ?? new FaultInjector(undefined);
    this.volumes = new IntentLog({ store: o.store, fence: () => this.leadership.fence(), now: this.now });
  }

  fence(): Fence | undefined {
    return this.leadership.fence();
  }

  /** Writes happen on the leader only; a follower names the leader instead. */
  async requireLeader(): Promise<void> {
    if (!this.leadership.isLeader()) throw new NotLeaderError(await this.leadership.leaderUrl());
  }

  async node(nodeId: string): Promise<NodeSpec> {
    const r = await readRecord<NodeSpec>(this.store, nodeKey(nodeId));
    if (r?.record.spec == null) throw new NodeNotFoundError(nodeId);
    return r.record.spec;
  }

  nodeOnline(nodeId: string): boolean {
    return this.registry.state(nodeId)?.status === NodeStatus.Online;
  }

  /** The engine of an online node; NODE_OFFLINE rather than a timeout when it is known to be down. */
  async engineOf(nodeId: string): Promise<EngineApi> {
    const node = await this.node(nodeId);
    if (!this.nodeOnline(nodeId)) throw new NodeOfflineError(nodeId);
    return this.engines(node.endpoint);
  }
}
