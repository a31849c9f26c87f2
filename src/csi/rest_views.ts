/**
 * The control plane's JSON (docs/openapi.json) as the CSI driver's types, and CSI
 * requests as control-plane bodies. Pure.
 *
 * The control plane keeps what placement needs (replicas, thin, media, tags, storage
 * group, spread, encryption) as fields, and the driver's own facts (fsType, size
 * bounds) in the volume's opaque `attributes`: the driver saves its canonical parameters
 * there (parameters_canonical.ts) and reads them back, so a volume read back has the
 * parameters it was created with, in canonical form. A volume without them (made by
 * another client) reads as its fields say, with the default filesystem.
 */
import type { Publication } from './capabilities.ts';
import { AccessMode } from './capabilities.ts';
import { UnsupportedError } from './csi_errors.ts';
import type { ContentSource, CreateVolumeArgs, Snapshot, TopologySegment, Volume } from './backend.ts';
import { DEFAULT_PARAMETERS, parseVolumeParameters, type VolumeParameters } from './parameters.ts';
import { canonicalParameters, storedAttributes } from './parameters_canonical.ts';
import { accessibleTopology, placementHints } from './topology.ts';

export { canonicalParameters };

export { TOPOLOGY_NODE_KEY, TOPOLOGY_ZONE_KEY } from './topology.ts';

export interface RestVolume {
  id: string;
  name: string;
  sizeBytes: number;
  replicas: number;
  thin: boolean;
  media?: 'hdd' | 'ssd';
  requiredTags?: string[];
  excludedTags?: string[];
  storageGroup?: string;
  spread?: { domain: string; strict: boolean };
  encrypted?: boolean;
  qos?: { maxIops?: number; maxBandwidthBytes?: number };
  sourceSnapshotId?: string;
  sourceVolumeId?: string;
  attributes?: Record<string, string>;
  publishedNodeId?: string;
  target?: { iqn: string; portal: string; url: string };
  /** CHAP the volume's exports demand (names only). */
  chap?: { user: string; mutualUser?: string };
  lifecycle: string;
  status: 'pending' | 'online' | 'degraded' | 'faulted';
  pending: string | null;
  replicaStates?: { id: string; nodeId: string; poolId: string; status: string }[];
}

export interface RestNode {
  id: string;
  zone: string;
  storageGroup: string;
  labels?: Record<string, string>;
  state?: { status?: string };
}

export interface RestPool {
  id: string;
  nodeId: string;
  media: 'hdd' | 'ssd';
  tags?: string[];
  status: string;
  capacityBytes: number;
  usedBytes: number;
  committedBytes: number;
  overcommitRatio: number;
}

export interface RestSnapshot {
  id: string;
  name: string;
  volumeId: string;
  sizeBytes: number;
  createdAtMs: number;
  lifecycle: string;
  groupId?: string;
}

/** The body of POST /v1/volumes; refuses what the control plane cannot record. */
export function createVolumeBody(args: CreateVolumeArgs): Record<string, unknown> {
  const p = args.parameters;
  if (p.media === 'slice') throw new UnsupportedError('type=slice through the control plane (it places on hdd or ssd pools)');
  if (p.striping) throw new UnsupportedError('striping=true through the control plane');
  const body: Record<string, unknown> = {
    name: args.name,
    sizeBytes: args.capacityBytes,
    replicas: p.replicas,
    thin: p.thin,
    // A zone-local volume spreads over the nodes of its zone; others over zones.
    spread: { domain: p.locality === 'zone' ? 'node' : 'zone', strict: p.spreadStrict },
    encrypted: p.encrypt,
    attributes: storedAttributes(p),
  };
  const hints = placementHints(args.topology, p);
  if (hints.preferredNodes.length > 0 || hints.preferredZones.length > 0 || hints.zone !== undefined) body.placement = hints;
  if (args.contentSource?.kind === 'snapshot') body.sourceSnapshotId = args.contentSource.snapshotId;
  if (args.contentSource?.kind === 'volume') body.sourceVolumeId = args.contentSource.volumeId;
  if (p.media !== undefined) body.media = p.media;
  if (p.requiredTags.length > 0) body.requiredTags = [...p.requiredTags];
  if (p.excludedTags.length > 0) body.excludedTags = [...p.excludedTags];
  if (p.storageGroup !== undefined) body.storageGroup = p.storageGroup;
  return body;
}

/** The parameters the driver saved in the volume's attributes, or derived from its fields. */
export function parametersFromRest(v: RestVolume): VolumeParameters {
  if (v.attributes !== undefined && typeof v.attributes === 'object' && v.attributes !== null && Object.keys(v.attributes).length > 0) {
    try {
      // Volumes from before QoS was refused carry maxIops/maxBandwidth: never enforced, so dropped here.
      const { maxIops: _iops, maxBandwidth: _bw, ...attributes } = v.attributes;
      return parseVolumeParameters(attributes);
    } catch {
      // Not this driver's attributes: read the fields as for a volume made by another client.
    }
  }
  const p: VolumeParameters = {
    ...DEFAULT_PARAMETERS,
    replicas: v.replicas,
    thin: v.thin,
    requiredTags: [...(v.requiredTags ?? [])],
    excludedTags: [...(v.excludedTags ?? [])],
    spreadStrict: v.spread?.strict ?? false,
    encrypt: v.encrypted ?? false,
  };
  if (v.media !== undefined) p.media = v.media;
  if (v.storageGroup) p.storageGroup = v.storageGroup;
  return p;
}

/**
 * The control plane records one node and no access mode: a publication read back is
 * a single-node writer's (the only kind it can serve for a mounted volume).
 */
export function publicationsFromRest(v: RestVolume): Publication[] {
  if (v.publishedNodeId === undefined) return [];
  return [{ nodeId: v.publishedNodeId, readonly: false, mode: AccessMode.SINGLE_NODE_WRITER }];
}

/**
 * Where the volume can be attached: every node (empty) — not where its replicas are —
 * unless its class is zone-local, then its replicas' zone (topology.ts).
 */
export function topologyFromRest(v: RestVolume, p: VolumeParameters, zoneOf: ReadonlyMap<string, string>): TopologySegment[] {
  const zones = (v.replicaStates ?? []).map((r) => zoneOf.get(r.nodeId)).filter((z): z is string => z !== undefined && z !== '');
  return accessibleTopology(p, zones);
}

export function volumeFromRest(v: RestVolume, zoneOf: ReadonlyMap<string, string>): Volume {
  // The replica count can change after the create (ControllerModifyVolume): the control plane's is the truth.
  const parameters = { ...parametersFromRest(v), replicas: v.replicas };
  const abnormal = v.status === 'degraded' || v.status === 'faulted';
  const replicas = v.replicaStates ?? [];
  const online = replicas.filter((r) => r.status === 'online').length;
  return {
    id: v.id,
    name: v.name,
    capacityBytes: v.sizeBytes,
    parameters,
    definingParameters: canonicalParameters(parameters),
    accessibleTopology: topologyFromRest(v, parameters, zoneOf),
    contentSource: contentSourceFromRest(v),
    publications: publicationsFromRest(v),
    condition: {
      abnormal,
      message: v.status === 'pending' ? `volume is being ${v.pending ?? 'created'}` : `${v.status}: ${online} of ${v.replicas} replica(s) online`,
    },
  };
}

function contentSourceFromRest(v: RestVolume): ContentSource | undefined {
  if (v.sourceSnapshotId) return { kind: 'snapshot', snapshotId: v.sourceSnapshotId };
  if (v.sourceVolumeId) return { kind: 'volume', volumeId: v.sourceVolumeId };
  return undefined;
}

export function snapshotFromRest(s: RestSnapshot): Snapshot {
  return {
    id: s.id, name: s.name, sourceVolumeId: s.volumeId, sizeBytes: s.sizeBytes, createdAtMs: s.createdAtMs, readyToUse: s.lifecycle === 'created',
    ...(s.groupId ? { groupSnapshotId: s.groupId } : {}),
  };
}

/** The LUN of an `iscsi://portal/IQN/LUN` target URL; 0 when the URL names none. */
export function lunOfTargetUrl(url: string): number {
  const m = /\/(\d{1,5})$/.exec(url);
  return m ? Number(m[1]) : 0;
}

/**
 * Could the pool hold a replica of a volume with these parameters, for a pod confined to
 * `zone` (capacityZone in topology.ts; undefined: anywhere)?
 */
export function poolMatches(pool: RestPool, node: RestNode | undefined, p: VolumeParameters, zone: string | undefined): boolean {
  if (pool.status !== 'online' && pool.status !== 'degraded') return false;
  if (p.media !== undefined && p.media !== pool.media) return false;
  const tags = pool.tags ?? [];
  if (!p.requiredTags.every((t) => tags.includes(t))) return false;
  if (p.excludedTags.some((t) => tags.includes(t))) return false;
  if (p.storageGroup !== undefined && node?.storageGroup !== p.storageGroup) return false;
  return zone === undefined || node?.zone === zone;
}

/** Bytes a new replica could still take from the pool, by the placement filter's rule. */
export function poolFreeBytes(pool: RestPool, thin: boolean): number {
  const limit = thin ? pool.capacityBytes * pool.overcommitRatio : pool.capacityBytes;
  const byCommit = limit - pool.committedBytes;
  const byUse = thin ? (pool.usedBytes < pool.capacityBytes ? byCommit : 0) : pool.capacityBytes - pool.usedBytes;
  return Math.max(0, Math.floor(Math.min(byCommit, byUse)));
}
