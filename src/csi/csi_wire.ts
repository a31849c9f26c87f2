/**
 * Conversions between CSI messages and the driver's own types, and the checks every
 * handler shares (required strings, byte counts, topology, content source).
 */
import { InvalidArgumentError, MissingFieldError } from './csi_errors.ts';
import type { ContentSource, Snapshot, TopologyNeed, TopologySegment, Volume, VolumeCondition } from './backend.ts';
import type { CapacityRange, Int64, SnapshotMessage, Topology, TopologyRequirement, VolumeContentSource, VolumeMessage } from './csi_types.ts';

/** The spec's size limit for string fields (names and ids). */
export const CSI_MAX_STRING_BYTES = 128;

export function requireString(value: string | undefined, field: string): string {
  if (value === undefined || value === '') throw new MissingFieldError(field);
  if (Buffer.byteLength(value) > CSI_MAX_STRING_BYTES) throw new InvalidArgumentError(`${field} is longer than ${CSI_MAX_STRING_BYTES} bytes`);
  return value;
}

/** An absolute path given by the CO; `..` would let a call reach outside the kubelet's tree. */
export function requirePath(value: string | undefined, field: string): string {
  if (value === undefined || value === '') throw new MissingFieldError(field);
  if (!value.startsWith('/') || value.split('/').includes('..') || value.includes('\0')) {
    throw new InvalidArgumentError(`${field} must be an absolute path without ..`);
  }
  return value;
}

/** An int64 from the wire as a safe non-negative number of bytes. */
export function bytesFromWire(value: Int64 | undefined, field: string): number {
  const n = typeof value === 'number' ? value : Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${field} must be a whole number of bytes from 0 to 2^53`);
  return n;
}

export interface ByteRange {
  requiredBytes: number;
  /** 0: no limit. */
  limitBytes: number;
}

export function readCapacityRange(range: CapacityRange | null | undefined, field: string): ByteRange {
  const requiredBytes = bytesFromWire(range?.required_bytes, `${field}.required_bytes`);
  const limitBytes = bytesFromWire(range?.limit_bytes, `${field}.limit_bytes`);
  if (limitBytes !== 0 && limitBytes < requiredBytes) throw new InvalidArgumentError(`${field}: limit_bytes is smaller than required_bytes`);
  return { requiredBytes, limitBytes };
}

export function readTopology(req: TopologyRequirement | null | undefined): TopologyNeed | undefined {
  if (!req) return undefined;
  const seg = (t: Topology) => ({ ...t.segments }) as TopologySegment;
  return { requisite: (req.requisite ?? []).map(seg), preferred: (req.preferred ?? []).map(seg) };
}

export function readContentSource(src: VolumeContentSource | null | undefined): ContentSource | undefined {
  if (!src || !src.type) return undefined;
  if (src.type === 'snapshot') return { kind: 'snapshot', snapshotId: requireString(src.snapshot?.snapshot_id, 'volume_content_source.snapshot.snapshot_id') };
  return { kind: 'volume', volumeId: requireString(src.volume?.volume_id, 'volume_content_source.volume.volume_id') };
}

export function sameContentSource(a: ContentSource | undefined, b: ContentSource | undefined): boolean {
  if (!a || !b) return !a && !b;
  if (a.kind === 'snapshot' && b.kind === 'snapshot') return a.snapshotId === b.snapshotId;
  if (a.kind === 'volume' && b.kind === 'volume') return a.volumeId === b.volumeId;
  return false;
}

function contentSourceToWire(src: ContentSource | undefined): VolumeContentSource | null {
  if (!src) return null;
  return src.kind === 'snapshot' ? { snapshot: { snapshot_id: src.snapshotId } } : { volume: { volume_id: src.volumeId } };
}

/** What the node plugin learns from the volume itself (NodeStage's volume_context). */
export function volumeContext(v: Volume): Record<string, string> {
  return { fsType: v.parameters.fsType, replicas: String(v.parameters.replicas), transport: v.parameters.transport };
}

export function volumeToWire(v: Volume): VolumeMessage {
  return {
    capacity_bytes: v.capacityBytes,
    volume_id: v.id,
    volume_context: volumeContext(v),
    content_source: contentSourceToWire(v.contentSource),
    accessible_topology: v.accessibleTopology.map((s) => ({ segments: { ...s } })),
  };
}

export function volumeStatusToWire(v: Volume): { published_node_ids: string[]; volume_condition: VolumeCondition } {
  return { published_node_ids: v.publications.map((p) => p.nodeId), volume_condition: { ...v.condition } };
}

export function snapshotToWire(s: Snapshot): SnapshotMessage {
  return {
    size_bytes: s.sizeBytes,
    snapshot_id: s.id,
    source_volume_id: s.sourceVolumeId,
    creation_time: { seconds: Math.floor(s.createdAtMs / 1000), nanos: (s.createdAtMs % 1000) * 1_000_000 },
    ready_to_use: s.readyToUse,
    group_snapshot_id: s.groupSnapshotId ?? '',
  };
}

export function readMaxEntries(n: number | undefined): number {
  const v = n ?? 0;
  if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError('max_entries must not be negative');
  return v;
}
