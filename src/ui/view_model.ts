/**
 * The dashboard's pure part: the shapes it reads from the control-plane API and what it
 * derives from them (volume search, capacity per zone, a volume's chain from pod to
 * node). No DOM and no I/O, so the same code runs in the browser and in unit tests.
 * Only erasable TypeScript: the control plane strips the types and serves it as is.
 */

export interface NodeInfo {
  id: string;
  endpoint?: string;
  zone?: string;
  storageGroup?: string;
  cordoned?: boolean;
  state?: { status?: string; lastHeartbeatMs?: number; engineVersion?: string };
}

export interface PoolInfo {
  id: string;
  nodeId: string;
  name: string;
  disks?: string[];
  media?: string;
  status?: string;
  capacityBytes?: number;
  usedBytes?: number;
  committedBytes?: number;
  replicaCount?: number;
}

export interface ReplicaInfo {
  id: string;
  poolId: string;
  nodeId: string;
  status?: string;
  rebuildProgress?: number;
  awaitingRebuild?: boolean;
  faulted?: { reason?: string };
}

export interface PodInfo {
  podUid?: string;
  podName?: string;
  podNamespace?: string;
  nodeId?: string;
}

export interface VolumeInfo {
  id: string;
  name: string;
  sizeBytes?: number;
  replicas?: number;
  thin?: boolean;
  status?: string;
  pending?: string | null;
  publishedNodeId?: string;
  attributes?: Record<string, string>;
  syncNexus?: { nodeId?: string; generation?: number };
  replicaStates?: ReplicaInfo[];
  pods?: PodInfo[];
}

export interface NexusInfo {
  id: string;
  volumeId: string;
  nodeId: string;
  children?: string[];
  generation?: number;
}

export interface SnapshotInfo {
  id: string;
  name: string;
  volumeId: string;
  sizeBytes?: number;
  createdAtMs?: number;
  replicaSnapshots?: { replicaId?: string; poolId?: string }[];
  /** Per copy, the bytes only this snapshot holds, as its engine reports it (GET /v1/volumes/:id/snapshot-space). */
  space?: { exclusiveBytes: number | null; note?: string }[];
}

/** The volume list shows at most this many rows; the count says how many matched. */
export const VOLUME_ROW_LIMIT = 200;

export interface VolumeFilter {
  /** Case-insensitive substring of the name or id; blank matches all. */
  text: string;
  /** A volume status (online, degraded, faulted, pending) or '' for any. */
  status: string;
}

export interface FilteredVolumes {
  rows: VolumeInfo[];
  matched: number;
  total: number;
}

/** One pass, no sort, rows capped: the cost stays linear in the fleet and the DOM small. */
export function filterVolumes(volumes: readonly VolumeInfo[], f: VolumeFilter, limit = VOLUME_ROW_LIMIT): FilteredVolumes {
  const needle = f.text.trim().toLowerCase();
  const rows: VolumeInfo[] = [];
  let matched = 0;
  for (const v of volumes) {
    if (f.status !== '' && v.status !== f.status) continue;
    if (needle !== '' && !v.name.toLowerCase().includes(needle) && !v.id.toLowerCase().includes(needle)) continue;
    matched++;
    if (rows.length < limit) rows.push(v);
  }
  return { rows, matched, total: volumes.length };
}

export interface ZoneCapacity {
  zone: string;
  nodes: number;
  pools: number;
  capacityBytes: number;
  usedBytes: number;
  committedBytes: number;
}

/** Pools summed by their node's zone; a pool whose node is unknown counts under "(unknown)". */
export function capacityByZone(nodes: readonly NodeInfo[], pools: readonly PoolInfo[]): ZoneCapacity[] {
  const zoneOf = new Map(nodes.map((n) => [n.id, n.zone ?? '(unknown)']));
  const zones = new Map<string, ZoneCapacity>();
  const entry = (zone: string): ZoneCapacity => {
    let z = zones.get(zone);
    if (z === undefined) {
      z = { zone, nodes: 0, pools: 0, capacityBytes: 0, usedBytes: 0, committedBytes: 0 };
      zones.set(zone, z);
    }
    return z;
  };
  for (const n of nodes) entry(n.zone ?? '(unknown)').nodes++;
  for (const p of pools) {
    const z = entry(zoneOf.get(p.nodeId) ?? '(unknown)');
    z.pools++;
    z.capacityBytes += p.capacityBytes ?? 0;
    z.usedBytes += p.usedBytes ?? 0;
    z.committedBytes += p.committedBytes ?? 0;
  }
  return [...zones.values()].sort((a, b) => (a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0));
}

/** Keys external-provisioner adds with --extra-create-metadata, when a client kept them in the attributes. */
export const PVC_NAME_KEY = 'csi.storage.k8s.io/pvc/name';
export const PVC_NAMESPACE_KEY = 'csi.storage.k8s.io/pvc/namespace';
export const PV_NAME_KEY = 'csi.storage.k8s.io/pv/name';

export interface ChainReplica {
  replica: ReplicaInfo;
  pool: PoolInfo | undefined;
  node: NodeInfo | undefined;
  /** The nexus uses this replica as a child. */
  inNexus: boolean;
}

export interface VolumeChain {
  pods: PodInfo[];
  pvc: { name: string; namespace: string | undefined } | undefined;
  /** The CSI volume name: the PV's name when external-provisioner created it. */
  pvName: string;
  volume: VolumeInfo;
  nexus: (NexusInfo & { node: NodeInfo | undefined }) | undefined;
  replicas: ChainReplica[];
  snapshots: SnapshotInfo[];
}

/** Joins one volume with the fleet's records into what the volume page shows, top to bottom. */
export function volumeChain(
  volume: VolumeInfo, nexuses: readonly NexusInfo[], pools: readonly PoolInfo[], nodes: readonly NodeInfo[], snapshots: readonly SnapshotInfo[],
): VolumeChain {
  const nodeById = new Map(nodes.map((n) => [n.id, n]));
  const poolById = new Map(pools.map((p) => [p.id, p]));
  const found = nexuses.find((x) => x.volumeId === volume.id);
  const children = new Set(found?.children ?? []);
  const attrs = volume.attributes ?? {};
  const pvcName = attrs[PVC_NAME_KEY];
  return {
    pods: [...(volume.pods ?? [])],
    pvc: pvcName === undefined ? undefined : { name: pvcName, namespace: attrs[PVC_NAMESPACE_KEY] },
    pvName: attrs[PV_NAME_KEY] ?? volume.name,
    volume,
    nexus: found === undefined ? undefined : { ...found, node: nodeById.get(found.nodeId) },
    replicas: (volume.replicaStates ?? []).map((r) => ({
      replica: r, pool: poolById.get(r.poolId), node: nodeById.get(r.nodeId), inNexus: children.has(r.id),
    })),
    snapshots: snapshots.filter((s) => s.volumeId === volume.id),
  };
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; whole numbers below 10 units keep one decimal. */
export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}

/** 0.4567 → "46%"; absent → "—". */
export function formatPercent(fraction: number | undefined): string {
  return fraction === undefined || !Number.isFinite(fraction) ? '—' : `${Math.round(fraction * 100)}%`;
}

/** Used over capacity as a fraction, or undefined when capacity is not known yet. */
export function usedFraction(p: { capacityBytes?: number; usedBytes?: number }): number | undefined {
  return p.capacityBytes !== undefined && p.capacityBytes > 0 ? (p.usedBytes ?? 0) / p.capacityBytes : undefined;
}
