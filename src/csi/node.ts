/**
 * The CSI Node service. Staged volumes are recorded under the state dir (staged_store.ts)
 * so a restarted plugin keeps serving unstage, stats and expand for them.
 */
import type { Logger } from '../util/log.ts';
import type { Attacher } from './attacher.ts';
import { KeyedLocks } from './csi_locks.ts';
import type { HandlerTable } from './csi_types.ts';
import { Mounter } from './mount.ts';
import type { CommandRunner } from './node_exec.ts';
import { nodePublish, nodeUnpublish } from './node_publish.ts';
import { nodeStage, nodeUnstage, type NodeDeps } from './node_stage.ts';
import { nodeExpand, nodeGetVolumeStats } from './node_volume.ts';
import { StagedStore } from './staged_store.ts';

export const NODE_CAPABILITIES = ['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'EXPAND_VOLUME', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER'] as const;
/** Topology key every Berth node reports; zone and storage group come from node labels. */
export const TOPOLOGY_NODE_KEY = 'topology.berth.io/node';
export const DEFAULT_MAX_VOLUMES_PER_NODE = 128;

export interface NodeServiceOptions {
  nodeId: string;
  stateDir: string;
  attacher: Attacher;
  runner: CommandRunner;
  /** Extra segments, e.g. { 'topology.berth.io/zone': 'a' }. */
  topology?: Record<string, string>;
  maxVolumes?: number;
  log: Logger;
}

export interface NodeService {
  handlers: HandlerTable;
  store: StagedStore;
}

export async function createNodeService(opts: NodeServiceOptions): Promise<NodeService> {
  const log = opts.log.child({ component: 'csi-node' });
  const store = new StagedStore(opts.stateDir);
  const { loaded, unreadable } = await store.load();
  if (unreadable.length > 0) log.warn({ unreadable }, 'staged records that cannot be read were left in place');
  log.info({ loaded }, 'staged volumes loaded');
  const d: NodeDeps = {
    nodeId: opts.nodeId,
    topology: { ...opts.topology, [TOPOLOGY_NODE_KEY]: opts.nodeId },
    maxVolumes: opts.maxVolumes ?? DEFAULT_MAX_VOLUMES_PER_NODE,
    attacher: opts.attacher,
    mounter: new Mounter(opts.runner),
    store,
    locks: new KeyedLocks(),
    log,
  };
  const handlers: HandlerTable = {
    NodeStageVolume: (req) => nodeStage(d, req),
    NodeUnstageVolume: (req) => nodeUnstage(d, req),
    NodePublishVolume: (req) => nodePublish(d, req),
    NodeUnpublishVolume: (req) => nodeUnpublish(d, req),
    NodeGetVolumeStats: (req) => nodeGetVolumeStats(d, req),
    NodeExpandVolume: (req) => nodeExpand(d, req),
    NodeGetCapabilities: async () => ({ capabilities: NODE_CAPABILITIES.map((type) => ({ rpc: { type } })) }),
    NodeGetInfo: async () => ({ node_id: d.nodeId, max_volumes_per_node: d.maxVolumes, accessible_topology: { segments: d.topology } }),
  };
  return { handlers, store };
}
