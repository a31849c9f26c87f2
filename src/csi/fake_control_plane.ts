/**
 * FakeControlPlane: an in-memory stand-in for the control plane's REST API, which does
 * not exist yet. It keeps the ControlPlaneClient contract (idempotency, errors) so the
 * CSI controller and its conformance suite run without a control plane; it places
 * nothing for real and moves no data. The REST client replaces it in production.
 */
import { randomUUID } from 'node:crypto';
import type { Publication } from './capabilities.ts';
import {
  CapacityExhaustedError,
  CapacityOutOfRangeError,
  InUseError,
  NameConflictError,
  NodeNotFoundError,
  NodeVolumeLimitError,
  SourceNotFoundError,
  VolumeNotFoundError,
} from './csi_errors.ts';
import { pageOf } from './pagination.ts';
import type {
  Capacity,
  ControlPlaneClient,
  CreateVolumeArgs,
  Page,
  PageRequest,
  PublishContext,
  Snapshot,
  TopologySegment,
  Volume,
  VolumeCondition,
} from './backend.ts';
import type { VolumeParameters } from './parameters.ts';
import { chapModeOf, type ChapCredentials } from './chap_secrets.ts';

export interface FakeNode {
  id: string;
  segments: TopologySegment;
  /** Bytes free in this node's pools. */
  freeBytes: number;
  media?: 'hdd' | 'ssd' | 'slice';
  maxVolumes?: number;
  /** Where its engine's iSCSI target listens. */
  portal?: string;
}

interface VolumeRecord {
  volume: Volume;
  replicaNodes: string[];
}

export class FakeControlPlane implements ControlPlaneClient {
  readonly nodes = new Map<string, FakeNode>();
  private readonly volumes = new Map<string, VolumeRecord>();
  private readonly snapshots = new Map<string, Snapshot>();
  /** Calls seen, for tests that check the controller made no needless writes. */
  readonly calls: string[] = [];

  addNode(node: FakeNode): void {
    this.nodes.set(node.id, { ...node });
  }

  /** Test hook: what a reconciler would report after a replica fault. */
  setCondition(volumeId: string, condition: VolumeCondition): void {
    const rec = this.volumes.get(volumeId);
    if (!rec) throw new VolumeNotFoundError(volumeId);
    rec.volume.condition = { ...condition };
  }

  async findVolumeByName(name: string): Promise<Volume | undefined> {
    for (const rec of this.volumes.values()) if (rec.volume.name === name) return clone(rec.volume);
    return undefined;
  }

  async createVolume(args: CreateVolumeArgs): Promise<Volume> {
    this.calls.push(`createVolume ${args.name}`);
    const existing = await this.findVolumeByName(args.name);
    if (existing) {
      if (existing.capacityBytes !== args.capacityBytes) throw new NameConflictError('volume', args.name, `size ${existing.capacityBytes}`);
      return existing;
    }
    if (args.contentSource?.kind === 'snapshot') {
      const snap = this.snapshots.get(args.contentSource.snapshotId);
      if (!snap) throw new SourceNotFoundError('snapshot', args.contentSource.snapshotId);
      if (snap.sizeBytes > args.capacityBytes) {
        throw new CapacityOutOfRangeError(`the volume (${args.capacityBytes} bytes) must be at least its snapshot's size (${snap.sizeBytes} bytes)`);
      }
    } else if (args.contentSource?.kind === 'volume') {
      const src = this.volumes.get(args.contentSource.volumeId);
      if (!src) throw new SourceNotFoundError('volume', args.contentSource.volumeId);
      if (src.volume.capacityBytes > args.capacityBytes) {
        throw new CapacityOutOfRangeError(`the clone (${args.capacityBytes} bytes) must be at least its source's size (${src.volume.capacityBytes} bytes)`);
      }
    }
    const replicaNodes = this.place(args);
    const need = args.parameters.thin ? 0 : args.capacityBytes;
    for (const id of replicaNodes) this.nodes.get(id)!.freeBytes -= need;
    const volume: Volume = {
      id: `vol-${randomUUID()}`,
      name: args.name,
      capacityBytes: args.capacityBytes,
      parameters: structuredClone(args.parameters),
      definingParameters: { ...args.definingParameters },
      accessibleTopology: uniqueSegments(replicaNodes.map((id) => this.nodes.get(id)!.segments)),
      contentSource: args.contentSource ? { ...args.contentSource } : undefined,
      publications: [],
      condition: { abnormal: false, message: 'all replicas healthy' },
    };
    this.volumes.set(volume.id, { volume, replicaNodes });
    return clone(volume);
  }

  async deleteVolume(volumeId: string): Promise<void> {
    this.calls.push(`deleteVolume ${volumeId}`);
    const rec = this.volumes.get(volumeId);
    if (!rec) return;
    if (rec.volume.publications.length > 0) {
      throw new InUseError(`volume ${volumeId} is still published to ${rec.volume.publications.map((p) => p.nodeId).join(', ')}`);
    }
    const freed = rec.volume.parameters.thin ? 0 : rec.volume.capacityBytes;
    for (const id of rec.replicaNodes) {
      const node = this.nodes.get(id);
      if (node) node.freeBytes += freed;
    }
    this.volumes.delete(volumeId);
  }

  async getVolume(volumeId: string): Promise<Volume | undefined> {
    const rec = this.volumes.get(volumeId);
    return rec ? clone(rec.volume) : undefined;
  }

  async publish(volumeId: string, publication: Publication, chap?: ChapCredentials): Promise<PublishContext> {
    this.calls.push(`publish ${volumeId} ${publication.nodeId}`);
    const rec = this.volumes.get(volumeId);
    if (!rec) throw new VolumeNotFoundError(volumeId);
    const node = this.nodes.get(publication.nodeId);
    if (!node) throw new NodeNotFoundError(publication.nodeId);
    const already = rec.volume.publications.some((p) => p.nodeId === publication.nodeId);
    if (!already) {
      const held = [...this.volumes.values()].filter((r) => r.volume.publications.some((p) => p.nodeId === node.id)).length;
      if (node.maxVolumes !== undefined && held >= node.maxVolumes) throw new NodeVolumeLimitError(node.id, node.maxVolumes);
      rec.volume.publications.push({ ...publication });
    }
    const nexusNode = this.nodes.get(rec.replicaNodes[0]) ?? node;
    const mode = chapModeOf(chap);
    return { targetPortal: nexusNode.portal ?? '127.0.0.1:3260', targetIqn: `iqn.2025-01.io.berth:${volumeId}`, lun: 0, ...(mode ? { chap: mode } : {}) };
  }

  async unpublish(volumeId: string, nodeId: string): Promise<void> {
    this.calls.push(`unpublish ${volumeId} ${nodeId}`);
    const rec = this.volumes.get(volumeId);
    if (!rec) return;
    rec.volume.publications = rec.volume.publications.filter((p) => p.nodeId !== nodeId);
  }

  async listVolumes(page: PageRequest): Promise<Page<Volume>> {
    const sorted = [...this.volumes.values()].map((r) => r.volume).sort((a, b) => cmp(a.id, b.id));
    const out = pageOf(sorted, (v) => v.id, page);
    return { items: out.items.map(clone), nextToken: out.nextToken };
  }

  async getCapacity(parameters: VolumeParameters, segment?: TopologySegment): Promise<Capacity> {
    const nodes = this.candidates(parameters, segment ? [segment] : []);
    const free = nodes.map((n) => n.freeBytes).sort((a, b) => b - a);
    // A volume needs `replicas` nodes with room, so the r-th largest free space bounds it.
    const bound = free.length >= parameters.replicas ? free[parameters.replicas - 1] : 0;
    return {
      availableBytes: free.reduce((a, b) => a + b, 0),
      maximumVolumeSize: Math.min(bound, parameters.maxVolumeSize ?? Number.MAX_SAFE_INTEGER),
      minimumVolumeSize: parameters.minVolumeSize,
    };
  }

  async findSnapshotByName(name: string): Promise<Snapshot | undefined> {
    for (const s of this.snapshots.values()) if (s.name === name) return { ...s };
    return undefined;
  }

  async createSnapshot(name: string, sourceVolumeId: string): Promise<Snapshot> {
    this.calls.push(`createSnapshot ${name}`);
    const existing = await this.findSnapshotByName(name);
    if (existing) {
      if (existing.sourceVolumeId !== sourceVolumeId) throw new NameConflictError('snapshot', name, `source volume ${existing.sourceVolumeId}`);
      return existing;
    }
    const src = this.volumes.get(sourceVolumeId);
    if (!src) throw new VolumeNotFoundError(sourceVolumeId);
    const snap: Snapshot = {
      id: `snap-${randomUUID()}`,
      name,
      sourceVolumeId,
      sizeBytes: src.volume.capacityBytes,
      createdAtMs: Date.now(),
      readyToUse: true,
    };
    this.snapshots.set(snap.id, snap);
    return { ...snap };
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    this.calls.push(`deleteSnapshot ${snapshotId}`);
    this.snapshots.delete(snapshotId);
  }

  async listSnapshots(filter: { sourceVolumeId?: string; snapshotId?: string }, page: PageRequest): Promise<Page<Snapshot>> {
    const sorted = [...this.snapshots.values()]
      .filter((s) => (filter.sourceVolumeId ? s.sourceVolumeId === filter.sourceVolumeId : true))
      .filter((s) => (filter.snapshotId ? s.id === filter.snapshotId : true))
      .sort((a, b) => cmp(a.id, b.id));
    const out = pageOf(sorted, (s) => s.id, page);
    return { items: out.items.map((s) => ({ ...s })), nextToken: out.nextToken };
  }

  async expandVolume(volumeId: string, requiredBytes: number): Promise<number> {
    this.calls.push(`expandVolume ${volumeId}`);
    const rec = this.volumes.get(volumeId);
    if (!rec) throw new VolumeNotFoundError(volumeId);
    if (requiredBytes <= rec.volume.capacityBytes) return rec.volume.capacityBytes;
    const grow = rec.volume.parameters.thin ? 0 : requiredBytes - rec.volume.capacityBytes;
    const short = rec.replicaNodes.filter((id) => (this.nodes.get(id)?.freeBytes ?? 0) < grow);
    if (short.length > 0) throw new CapacityExhaustedError(`no room to grow volume ${volumeId} on ${short.join(', ')}`);
    for (const id of rec.replicaNodes) this.nodes.get(id)!.freeBytes -= grow;
    rec.volume.capacityBytes = requiredBytes;
    return requiredBytes;
  }

  async modifyVolume(volumeId: string, changes: { replicas?: number }): Promise<void> {
    this.calls.push(`modifyVolume ${volumeId}`);
    const rec = this.volumes.get(volumeId);
    if (!rec) throw new VolumeNotFoundError(volumeId);
    // Records only: the fake moves no data, so a count is taken as said.
    if (changes.replicas !== undefined) rec.volume.parameters = { ...rec.volume.parameters, replicas: changes.replicas };
  }

  private candidates(p: VolumeParameters, requisite: readonly TopologySegment[]): FakeNode[] {
    return [...this.nodes.values()].filter(
      (n) => (p.media === undefined || n.media === undefined || n.media === p.media) && (requisite.length === 0 || requisite.some((seg) => within(n.segments, seg))),
    );
  }

  private place(args: CreateVolumeArgs): string[] {
    const need = args.parameters.thin ? 1 : args.capacityBytes;
    const inTopology = this.candidates(args.parameters, args.topology?.requisite ?? []);
    const roomy = inTopology.filter((n) => n.freeBytes >= need);
    const preferred = args.topology?.preferred ?? [];
    const rank = (n: FakeNode) => {
      const i = preferred.findIndex((seg) => within(n.segments, seg));
      return i < 0 ? preferred.length : i;
    };
    roomy.sort((a, b) => rank(a) - rank(b) || b.freeBytes - a.freeBytes || cmp(a.id, b.id));
    if (roomy.length < args.parameters.replicas) {
      throw new CapacityExhaustedError(
        `cannot place ${args.parameters.replicas} replica(s) of ${args.capacityBytes} bytes: ${inTopology.length} node(s) match the topology and media, ${roomy.length} have room`,
      );
    }
    return roomy.slice(0, args.parameters.replicas).map((n) => n.id);
  }
}

function within(segments: TopologySegment, want: TopologySegment): boolean {
  return Object.entries(want).every(([k, v]) => segments[k] === v);
}

function uniqueSegments(list: TopologySegment[]): TopologySegment[] {
  const seen = new Map<string, TopologySegment>();
  for (const s of list) seen.set(JSON.stringify(Object.entries(s).sort()), { ...s });
  return [...seen.values()];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function clone(v: Volume): Volume {
  return structuredClone(v);
}
