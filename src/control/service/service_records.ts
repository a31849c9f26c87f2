import { createHash } from 'node:crypto';
import { KEY_ROOT, ResourceKind, kindPrefix, specKey } from '../model/spec_common.ts';
import type { IntentRecord } from '../model/intent_log.ts';
import type { NexusSpec } from '../model/nexus_spec.ts';
import type { ReplicaSpec } from '../model/replica_spec.ts';
import type { VolumeSpec } from '../model/volume_spec.ts';
import type { Fence, Store } from '../store/store.ts';
import { InvalidArgumentError } from './service_errors.ts';
import type { SealedChap } from './chap_seal.ts';

/**
 * How the service keeps its resources in the store: every key holds an intent record
 * `{spec, pending}` (src/control/model/intent_log.ts), also for resources that are
 * written without an operation, so one reader serves all.
 */

/** Where a published volume is served: the iSCSI target an initiator logs in to. */
export interface VolumeTarget {
  readonly iqn: string;
  readonly portal: string;
  readonly url: string;
  /** The replica whose engine serves it (single-replica volumes; replicated ones are served by `nexus`). */
  readonly replicaId?: string;
}

/** The stored volume: the model's spec plus where it is published. */
export interface StoredVolume extends VolumeSpec {
  readonly initiatorIqn?: string;
  readonly target?: VolumeTarget;
  /** CHAP every export of the published volume demands (secrets sealed, chap_seal.ts). */
  readonly chap?: SealedChap;
  /** The live nexus of a published replicated volume (written under the intent log). */
  readonly nexus?: NexusSpec;
  /**
   * The highest nexus generation ever issued for the volume; kept across unpublish so
   * every new incarnation gets a higher one and replicas fence all earlier ones.
   */
  readonly nexusGeneration?: number;
  /**
   * An unexported nexus the background_rebuild reconciler runs on an unpublished volume
   * to bring its blank or stale replicas in sync; its generation counts like any other.
   */
  readonly syncNexus?: { readonly nodeId: string; readonly generation: number };
  readonly createdAtMs: number;
}

/** The stored replica: the model's spec plus the fault the control plane recorded. */
export interface StoredReplica extends ReplicaSpec {
  /** Set when its node was lost (or its pool faulted); the volume then counts it out. */
  readonly faulted?: { readonly reason: string; readonly atMs: number };
  /**
   * A replacement created empty: it holds no data until the volume's nexus has rebuilt
   * it (the nexus_replicas reconciler clears the flag then), so until then it does not
   * count as a healthy copy and never seeds a new nexus as `online`.
   */
  readonly awaitingRebuild?: boolean;
  /** How far its rebuild is (0–1) while a nexus copies into it, as last polled. */
  readonly rebuildProgress?: number;
}

/** A replica the intent log remembers before it exists, so recovery can find it. */
export interface ReplicaPlan {
  readonly id: string;
  readonly poolId: string;
  readonly nodeId: string;
  /**
   * Created blank and marked awaitingRebuild: a restored or cloned volume's copy is made
   * in one pool only (engines copy within a pool), the others are rebuilt from it by the
   * nexus — in the background (background_rebuild) or when the volume is published.
   */
  readonly blank?: true;
}

export type VolumeOp =
  | { readonly type: 'create'; readonly spec: StoredVolume; readonly replicas: readonly ReplicaPlan[] }
  | { readonly type: 'delete' }
  | {
    readonly type: 'publish'; readonly nodeId: string; readonly initiatorIqn: string; readonly replicaId: string; readonly targetIqn: string;
    /** Sealed; absent: the export demands no CHAP. */
    readonly chap?: SealedChap;
  }
  | {
    readonly type: 'publish-nexus'; readonly nodeId: string; readonly initiatorIqn: string; readonly targetIqn: string;
    readonly nexusNodeId: string; readonly generation: number; readonly chap?: SealedChap;
  }
  | { readonly type: 'move-nexus'; readonly nexusNodeId: string; readonly generation: number }
  | { readonly type: 'start-sync-nexus'; readonly nexusNodeId: string; readonly generation: number }
  | { readonly type: 'end-sync-nexus' }
  | { readonly type: 'unpublish' }
  | { readonly type: 'resize'; readonly sizeBytes: number };

/** CSI podInfoOnMount: which pod uses a volume, recorded by the CSI node plugin. */
export interface PodMount {
  readonly volumeId: string;
  readonly podUid: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly nodeId?: string;
  readonly recordedAtMs: number;
}

/** Engine volumes the control plane owns carry this prefix; orphan cleanup touches no other. */
export const REPLICA_NAME_PREFIX = 'r-';
/** Target names of published volumes; lower case, as RFC 7143 wants IQNs compared. */
export const TARGET_IQN_PREFIX = 'iqn.2026-11.io.berth:vol-';

/** CSI's bound on names, in UTF-8 bytes; what else a name may hold is the API schema's rule. */
export const NAME_MAX_BYTES = 128;

/** A volume or snapshot name within CSI's byte bound and free of control characters. */
export function checkName(name: string, what: string): void {
  if (name.length === 0 || Buffer.byteLength(name) > NAME_MAX_BYTES || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new InvalidArgumentError(`${what} name must be 1–${NAME_MAX_BYTES} bytes of UTF-8 without control characters`);
  }
}

/**
 * A volume's id follows from its CSI name, so every instance (and a new leader after a
 * crash) maps one name to one key and the store's compare-and-swap makes the create
 * happen once. Formatted as a UUID for the people who read it.
 */
export function volumeIdFor(name: string): string {
  const h = createHash('sha256').update(`berth-volume\0${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function snapshotIdFor(name: string): string {
  return `s-${createHash('sha256').update(`berth-snapshot\0${name}`).digest('hex').slice(0, 32)}`;
}

/** Pool ids are `nodeId:poolName`; engine pool names never contain ':'. */
export function poolIdOf(nodeId: string, poolName: string): string {
  return `${nodeId}:${poolName}`;
}

export function splitPoolId(poolId: string): { nodeId: string; pool: string } {
  const i = poolId.lastIndexOf(':');
  return { nodeId: poolId.slice(0, i), pool: poolId.slice(i + 1) };
}

/** The key prefix of a kind (re-exported so reconcilers import one module). */
export const kindPrefixOf = kindPrefix;

export const volumeKey = (id: string): string => specKey(ResourceKind.Volume, id);
export const replicaKey = (id: string): string => specKey(ResourceKind.Replica, id);
export const nodeKey = (id: string): string => specKey(ResourceKind.Node, id);
export const poolKey = (id: string): string => specKey(ResourceKind.Pool, id);
export const snapshotKey = (id: string): string => specKey(ResourceKind.Snapshot, id);
export const nexusKey = (id: string): string => specKey(ResourceKind.Nexus, id);
export const PODS_PREFIX = `${KEY_ROOT}podmounts/`;
export const podKey = (volumeId: string, podUid: string): string => `${PODS_PREFIX}${volumeId}/${podUid}`;

export interface RecordAt<S, Op> {
  readonly key: string;
  readonly record: IntentRecord<S, Op>;
  readonly revision: number;
}

export async function readRecord<S, Op = never>(store: Store, key: string): Promise<RecordAt<S, Op> | undefined> {
  const kv = await store.get(key);
  return kv === undefined ? undefined : { key, record: JSON.parse(kv.value) as IntentRecord<S, Op>, revision: kv.modRevision };
}

/** Every record under a prefix, paging through the store. */
export async function listRecords<S, Op = never>(store: Store, prefix: string): Promise<RecordAt<S, Op>[]> {
  const out: RecordAt<S, Op>[] = [];
  let startAfter: string | undefined;
  while (true) {
    const page = await store.list(prefix, { limit: 500, startAfter });
    for (const kv of page.items) out.push({ key: kv.key, record: JSON.parse(kv.value) as IntentRecord<S, Op>, revision: kv.modRevision });
    if (!page.more || page.items.length === 0) return out;
    startAfter = page.items[page.items.length - 1].key;
  }
}

export async function listSpecs<S>(store: Store, kind: ResourceKind): Promise<S[]> {
  const out: S[] = [];
  for (const r of await listRecords<S>(store, kindPrefix(kind))) if (r.record.spec !== null) out.push(r.record.spec);
  return out;
}

/** A plain write of a spec with no operation pending (replicas, nodes, pools). */
export async function putSpec<S>(store: Store, key: string, spec: S, fence: Fence | undefined): Promise<void> {
  await store.put(key, JSON.stringify({ spec, pending: null }), { fence });
}

export async function deleteSpec(store: Store, key: string, fence: Fence | undefined): Promise<void> {
  await store.delete(key, { fence });
}

export async function replicasOf(store: Store, volumeId: string): Promise<StoredReplica[]> {
  return (await listSpecs<StoredReplica>(store, ResourceKind.Replica)).filter((r) => r.volumeId === volumeId);
}
