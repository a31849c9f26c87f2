/**
 * The facts `kubectl berth` shows, assembled from the control plane's JSON and
 * `kubectl get … -o json` documents. Pure: no I/O, so every join is unit-tested.
 */

export interface ApiNode { id: string; zone?: string; storageGroup?: string; cordoned?: boolean; state?: { status?: string; engineVersion?: string } }
export interface ApiPool {
  id: string; nodeId: string; name: string; status?: string; media?: string;
  capacityBytes?: number; usedBytes?: number; committedBytes?: number; replicaCount?: number;
}
export interface ApiReplica {
  id: string; volumeId: string; poolId: string; nodeId: string; status?: string;
  awaitingRebuild?: boolean; rebuildProgress?: number; faulted?: { reason?: string };
}
export interface ApiNexus { id: string; volumeId: string; nodeId: string; children?: string[]; generation?: number }
export interface ApiPod { podUid?: string; podName: string; podNamespace: string; nodeId?: string }
export interface ApiVolume {
  id: string; name: string; sizeBytes: number; replicas: number; status?: string; pending?: string | null;
  publishedNodeId?: string; replicaStates?: ApiReplica[]; pods?: ApiPod[];
  target?: { iqn?: string; portal?: string; replicaId?: string };
  /** The CSI driver keeps the PVC/PV names external-provisioner gave it here (csi.storage.k8s.io/pvc/name, …). */
  attributes?: Record<string, string>;
}

/** A Berth volume's PersistentVolume and the claim bound to it, from `kubectl get pv -o json`. */
export interface PvBinding { pv: string; phase?: string; pvcNamespace?: string; pvcName?: string }

interface K8sList { items?: unknown[] }
interface K8sPv {
  metadata?: { name?: string };
  spec?: { csi?: { driver?: string; volumeHandle?: string }; claimRef?: { namespace?: string; name?: string } };
  status?: { phase?: string };
}
interface K8sPod {
  metadata?: { name?: string; namespace?: string };
  spec?: { nodeName?: string; volumes?: { persistentVolumeClaim?: { claimName?: string } }[] };
  status?: { phase?: string };
}

export const BERTH_CSI_DRIVER = 'csi.berth.io';

/** Volume id (the CSI volume handle) → its PV and claim; PVs of other drivers are skipped. */
export function pvIndex(pvList: unknown, driver = BERTH_CSI_DRIVER): Map<string, PvBinding> {
  const out = new Map<string, PvBinding>();
  for (const item of (pvList as K8sList | null)?.items ?? []) {
    const pv = item as K8sPv;
    const handle = pv.spec?.csi?.volumeHandle;
    const name = pv.metadata?.name;
    if (pv.spec?.csi?.driver !== driver || !handle || !name) continue;
    out.set(handle, { pv: name, phase: pv.status?.phase, pvcNamespace: pv.spec?.claimRef?.namespace, pvcName: pv.spec?.claimRef?.name });
  }
  return out;
}

/** `namespace/claim` → the pods naming that claim in their volumes, from `kubectl get pods -A -o json`. */
export function podsByPvc(podList: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const item of (podList as K8sList | null)?.items ?? []) {
    const pod = item as K8sPod;
    const ns = pod.metadata?.namespace;
    const name = pod.metadata?.name;
    if (!ns || !name) continue;
    const claims = new Set((pod.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((c): c is string => !!c));
    for (const claim of claims) {
      const key = `${ns}/${claim}`;
      out.set(key, [...(out.get(key) ?? []), name].sort());
    }
  }
  return out;
}

/** What Kubernetes says about the volumes (empty maps when kubectl is not used). */
export interface ClusterFacts { pvs: Map<string, PvBinding>; pods: Map<string, string[]> }
export const NO_CLUSTER_FACTS: ClusterFacts = { pvs: new Map(), pods: new Map() };

export interface VolumeRow {
  id: string; name: string; namespace: string; pvc: string; pods: string[];
  status: string; sizeBytes: number; replicas: string; node: string;
}

/**
 * The volume's PV and PVC: from Kubernetes when kubectl could read the PVs, else from the
 * names the CSI driver saved with the volume at CreateVolume (so no cluster access is needed).
 */
export function bindingOf(v: ApiVolume, facts: ClusterFacts): PvBinding | undefined {
  const known = facts.pvs.get(v.id);
  if (known !== undefined) return known;
  const a = v.attributes ?? {};
  const pvcName = a['csi.storage.k8s.io/pvc/name'];
  const pvcNamespace = a['csi.storage.k8s.io/pvc/namespace'];
  if (pvcName === undefined || pvcNamespace === undefined) return undefined;
  return { pv: a['csi.storage.k8s.io/pv/name'] ?? v.name, pvcName, pvcNamespace };
}

/** Pods from Kubernetes when known, else the ones the node plugin recorded (podInfoOnMount). */
function podsOf(v: ApiVolume, b: PvBinding | undefined, facts: ClusterFacts): string[] {
  if (b?.pvcNamespace && b.pvcName) {
    const k8s = facts.pods.get(`${b.pvcNamespace}/${b.pvcName}`);
    if (k8s) return k8s;
  }
  return (v.pods ?? []).map((p) => p.podName).sort();
}

export function volumeRows(volumes: readonly ApiVolume[], facts: ClusterFacts): VolumeRow[] {
  return volumes.map((v) => {
    const b = bindingOf(v, facts);
    const recordedNs = v.pods?.[0]?.podNamespace;
    const healthy = (v.replicaStates ?? []).filter((r) => r.status === 'online').length;
    return {
      id: v.id, name: v.name,
      namespace: b?.pvcNamespace ?? recordedNs ?? '',
      pvc: b?.pvcName ?? '',
      pods: podsOf(v, b, facts),
      status: v.pending ? `${v.status ?? 'unknown'} (${v.pending})` : (v.status ?? 'unknown'),
      sizeBytes: v.sizeBytes,
      replicas: `${healthy}/${v.replicas}`,
      node: v.publishedNodeId ?? '',
    };
  });
}

export interface ChainReplica {
  id: string; status: string; rebuildProgress?: number; inNexus: boolean;
  pool: { id: string; name: string; status: string; media?: string };
  node: { id: string; status: string; zone?: string };
}
export interface Chain {
  pvc?: { namespace: string; name: string };
  pv?: { name: string; phase?: string };
  pods: string[];
  volume: { id: string; name: string; status: string; pending?: string; sizeBytes: number; replicas: number };
  nexus?: { id: string; nodeId: string; nodeStatus: string; generation?: number; children: string[] };
  /** Where initiators log in: the nexus, or (one replica, no nexus) the replica's own export. */
  target?: { iqn?: string; portal?: string; replicaId?: string };
  replicas: ChainReplica[];
}

export interface ChainInput {
  volume: ApiVolume; nexuses: readonly ApiNexus[]; pools: readonly ApiPool[]; nodes: readonly ApiNode[]; facts: ClusterFacts;
}

/** pvc → pv → volume → nexus → replicas → pools → nodes, each with its state; unknown parts say so. */
export function assembleChain(i: ChainInput): Chain {
  const v = i.volume;
  const b = bindingOf(v, i.facts);
  const nodeStatus = (id: string): string => i.nodes.find((n) => n.id === id)?.state?.status ?? 'unknown';
  const nexus = i.nexuses.find((n) => n.volumeId === v.id);
  const children = nexus?.children ?? [];
  const replicas = (v.replicaStates ?? []).map((r): ChainReplica => {
    const pool = i.pools.find((p) => p.id === r.poolId);
    const node = i.nodes.find((n) => n.id === r.nodeId);
    const out: ChainReplica = {
      id: r.id, status: r.status ?? 'unknown', inNexus: children.includes(r.id),
      pool: { id: r.poolId, name: pool?.name ?? '?', status: pool?.status ?? 'unknown', ...(pool?.media ? { media: pool.media } : {}) },
      node: { id: r.nodeId, status: node?.state?.status ?? 'unknown', ...(node?.zone ? { zone: node.zone } : {}) },
    };
    if (r.rebuildProgress !== undefined) out.rebuildProgress = r.rebuildProgress;
    return out;
  });
  const chain: Chain = {
    pods: podsOf(v, b, i.facts),
    volume: {
      id: v.id, name: v.name, status: v.status ?? 'unknown', sizeBytes: v.sizeBytes, replicas: v.replicas,
      ...(v.pending ? { pending: v.pending } : {}),
    },
    replicas,
  };
  if (v.target) chain.target = v.target;
  if (b?.pvcNamespace && b.pvcName) chain.pvc = { namespace: b.pvcNamespace, name: b.pvcName };
  if (b) chain.pv = { name: b.pv, ...(b.phase ? { phase: b.phase } : {}) };
  if (nexus) {
    chain.nexus = {
      id: nexus.id, nodeId: nexus.nodeId, nodeStatus: nodeStatus(nexus.nodeId), children,
      ...(nexus.generation !== undefined ? { generation: nexus.generation } : {}),
    };
  }
  return chain;
}

const pct = (p: number | undefined): string => (p === undefined ? '' : ` ${Math.round(p * 100)}%`);

/** The chain as an indented tree for people. */
export function chainLines(c: Chain): string[] {
  const lines: string[] = [];
  if (c.pods.length > 0) lines.push(`pod       ${c.pods.join(', ')}`);
  lines.push(`pvc       ${c.pvc ? `${c.pvc.namespace}/${c.pvc.name}` : '(not known: no PersistentVolume names this volume)'}`);
  if (c.pv) lines.push(`pv        ${c.pv.name}${c.pv.phase ? ` [${c.pv.phase}]` : ''}`);
  const v = c.volume;
  lines.push(`volume    ${v.name} (${v.id}) [${v.status}${v.pending ? `, ${v.pending}` : ''}] ${v.replicas} replica(s)`);
  if (c.nexus) {
    lines.push(`└─ nexus  ${c.nexus.id} on ${c.nexus.nodeId} [node ${c.nexus.nodeStatus}]${c.nexus.generation !== undefined ? ` generation ${c.nexus.generation}` : ''}`);
  } else if (c.target?.replicaId) {
    lines.push(`└─ export ${c.target.iqn ?? '?'} at ${c.target.portal ?? '?'}: replica ${c.target.replicaId} directly (no nexus)`);
  } else {
    lines.push('└─ nexus  (none: the volume is not published)');
  }
  c.replicas.forEach((r, n) => {
    const last = n === c.replicas.length - 1;
    const zone = r.node.zone ? ` zone ${r.node.zone}` : '';
    lines.push(`   ${last ? '└─' : '├─'} replica ${r.id} [${r.status}${pct(r.rebuildProgress)}]${c.nexus && !r.inNexus ? ' (not in the nexus)' : ''}`);
    lines.push(`   ${last ? ' ' : '│'}    pool ${r.pool.name} (${r.pool.id}) [${r.pool.status}${r.pool.media ? `, ${r.pool.media}` : ''}]`
      + ` → node ${r.node.id} [${r.node.status}]${zone}`);
  });
  return lines;
}

export interface RebuildRow { volumeId: string; replicaId: string; nodeId: string; poolId: string; state: string; progress: string }

/** Replicas being rebuilt or waiting for a rebuild. */
export function rebuildRows(replicas: readonly ApiReplica[]): RebuildRow[] {
  return replicas
    .filter((r) => r.status === 'rebuilding' || r.awaitingRebuild === true)
    .map((r) => ({
      volumeId: r.volumeId, replicaId: r.id, nodeId: r.nodeId, poolId: r.poolId,
      state: r.status === 'rebuilding' ? 'rebuilding' : 'awaiting rebuild',
      progress: r.rebuildProgress === undefined ? '' : `${Math.round(r.rebuildProgress * 100)}%`,
    }));
}
