/**
 * Events from two observations of the control plane's state: what changed between them
 * is what happened (a node went offline, a replica was retired, a rebuild finished). Pure:
 * the recorder (event_recorder.ts) reads the state and keeps the previous observation.
 * The first observation after a start only sets the baseline, so a restart does not
 * repeat history.
 */
import { EventType, ObjectKind, type EventDraft, type EventSeverity, type InvolvedIds } from './event_types.ts';

export interface ObservedNode {
  readonly id: string;
  /** The registry's status: online, offline or unknown. */
  readonly status: string;
  /** Offline for longer than the grace period: its replicas are being replaced. */
  readonly lost: boolean;
}

export interface ObservedPool {
  readonly id: string;
  readonly nodeId: string;
  /** online, degraded or faulted, from the node's heartbeat. */
  readonly health: string;
}

export interface ObservedReplica {
  readonly id: string;
  readonly nodeId: string;
  readonly poolId: string;
  readonly status: string;
  readonly faultedReason?: string;
  readonly awaitingRebuild: boolean;
}

export interface ObservedVolume {
  readonly id: string;
  readonly name: string;
  /** pending, online, degraded or faulted. */
  readonly status: string;
  readonly lifecycle: string;
  readonly wanted: number;
  readonly replicas: readonly ObservedReplica[];
}

export interface ObservedSnapshot {
  readonly id: string;
  readonly name: string;
  readonly volumeId: string;
  readonly sizeBytes: number;
}

export interface Observation {
  readonly nodes: readonly ObservedNode[];
  readonly pools: readonly ObservedPool[];
  readonly volumes: readonly ObservedVolume[];
  readonly snapshots: readonly ObservedSnapshot[];
}

const byId = <T extends { id: string }>(xs: readonly T[]): Map<string, T> => new Map(xs.map((x) => [x.id, x]));

/** Everything that changed from `prev` to `next`, as events at `atMs`; none without a baseline. */
export function diffObservations(prev: Observation | undefined, next: Observation, atMs: number): EventDraft[] {
  if (prev === undefined) return [];
  const out: EventDraft[] = [];
  const emit = (type: EventType, severity: EventSeverity, object: EventDraft['object'], reason: string, message: string, involved: InvolvedIds): void => {
    out.push({ atMs, type, severity, object, reason, message, involved });
  };
  diffNodes(prev, next, emit);
  diffPools(prev, next, emit);
  diffVolumes(prev, next, emit);
  diffSnapshots(prev, next, emit);
  return out;
}

type Emit = (type: EventType, severity: EventSeverity, object: EventDraft['object'], reason: string, message: string, involved: InvolvedIds) => void;

function diffNodes(prev: Observation, next: Observation, emit: Emit): void {
  const before = byId(prev.nodes);
  for (const n of next.nodes) {
    const p = before.get(n.id);
    const obj = { kind: ObjectKind.Node, id: n.id };
    const ids = { nodeId: n.id };
    if (p === undefined) {
      if (n.status === 'online') emit(EventType.NodeOnline, 'normal', obj, 'Registered', `node ${n.id} registered: its engine sent a first heartbeat`, ids);
      continue;
    }
    if (p.status !== 'online' && n.status === 'online') {
      if (p.status === 'offline') {
        emit(EventType.NodeBack, 'normal', obj, 'HeartbeatReceived', `node ${n.id} is back online${p.lost ? ' after it was declared lost; its replaced replicas were already rebuilt elsewhere' : '; its replicas resync what changed'}`, ids);
      } else emit(EventType.NodeOnline, 'normal', obj, 'HeartbeatReceived', `node ${n.id} checked in`, ids);
    }
    if (p.status !== 'offline' && n.status === 'offline') {
      emit(EventType.NodeOffline, 'warning', obj, 'HeartbeatMissed', `node ${n.id} is offline: no heartbeat within the deadline; placement no longer uses it`, ids);
    }
    if (!p.lost && n.lost) {
      emit(EventType.NodeLost, 'warning', obj, 'GracePeriodOver', `node ${n.id} is lost: offline for longer than the grace period; its replicas are to be replaced`, ids);
    }
  }
}

const POOL_EVENT: Record<string, [EventType, EventSeverity]> = {
  online: [EventType.PoolOnline, 'normal'],
  degraded: [EventType.PoolDegraded, 'warning'],
  faulted: [EventType.PoolFaulted, 'warning'],
};

function diffPools(prev: Observation, next: Observation, emit: Emit): void {
  const before = byId(prev.pools);
  for (const p of next.pools) {
    const b = before.get(p.id);
    const ev = POOL_EVENT[p.health];
    if (b === undefined || b.health === p.health || ev === undefined) continue;
    emit(ev[0], ev[1], { kind: ObjectKind.Pool, id: p.id }, 'EngineReported', `pool ${p.id} on node ${p.nodeId} is ${p.health} (was ${b.health})`, { poolId: p.id, nodeId: p.nodeId });
  }
}

function diffVolumes(prev: Observation, next: Observation, emit: Emit): void {
  const before = byId(prev.volumes);
  const now = byId(next.volumes);
  for (const v of next.volumes) {
    const obj = { kind: ObjectKind.Volume, id: v.id, name: v.name };
    const b = before.get(v.id);
    const created = v.lifecycle === 'created';
    if (created && (b === undefined || b.lifecycle !== 'created')) {
      const where = v.replicas.map((r) => `${r.nodeId}/${r.poolId}`).join(', ') || 'no replicas';
      emit(EventType.VolumeCreated, 'normal', obj, 'Created', `volume ${v.name} created with ${v.replicas.length} of ${v.wanted} replicas (${where})`, { volumeId: v.id });
    }
    if (b === undefined) continue;
    diffReplicas(b, v, emit);
    if (created && b.lifecycle === 'created' && b.status !== v.status) volumeStatusEvent(b, v, emit);
  }
  for (const b of prev.volumes) {
    if (!now.has(b.id)) emit(EventType.VolumeDeleted, 'normal', { kind: ObjectKind.Volume, id: b.id, name: b.name }, 'Deleted', `volume ${b.name} deleted`, { volumeId: b.id });
  }
}

function volumeStatusEvent(b: ObservedVolume, v: ObservedVolume, emit: Emit): void {
  const obj = { kind: ObjectKind.Volume, id: v.id, name: v.name };
  const online = v.replicas.filter((r) => r.status === 'online').length;
  const notOnline = v.replicas.filter((r) => r.status !== 'online').map((r) => `${r.id} ${r.status}${r.faultedReason ? ` (${r.faultedReason})` : ''}`);
  const detail = `${online} of ${v.wanted} replicas online${notOnline.length > 0 ? `; ${notOnline.join(', ')}` : ''}`;
  const ids = { volumeId: v.id };
  if (v.status === 'degraded') emit(EventType.VolumeDegraded, 'warning', obj, 'ReplicasNotOnline', `volume ${v.name} is degraded: ${detail}`, ids);
  else if (v.status === 'faulted') emit(EventType.VolumeFaulted, 'warning', obj, 'NoReplicaOnline', `volume ${v.name} is faulted: ${detail}`, ids);
  else if (v.status === 'online') emit(EventType.VolumeOnline, 'normal', obj, 'ReplicasOnline', `volume ${v.name} is online again (was ${b.status}): ${detail}`, ids);
}

function diffReplicas(b: ObservedVolume, v: ObservedVolume, emit: Emit): void {
  const obj = { kind: ObjectKind.Volume, id: v.id, name: v.name };
  const before = byId(b.replicas);
  const now = byId(v.replicas);
  const ids = (r: ObservedReplica): InvolvedIds => ({ volumeId: v.id, replicaId: r.id, nodeId: r.nodeId, poolId: r.poolId });
  for (const r of v.replicas) {
    const p = before.get(r.id);
    if ((p === undefined || !p.awaitingRebuild) && r.awaitingRebuild) {
      emit(EventType.RebuildStarted, 'normal', obj, p === undefined ? 'ReplacementCreated' : 'ReplicaStale',
        `replica ${r.id} of volume ${v.name} on ${r.nodeId}/${r.poolId} awaits a rebuild from the healthy replicas`, ids(r));
    }
    if (p === undefined) continue;
    if (p.awaitingRebuild && !r.awaitingRebuild && r.status !== 'faulted') {
      emit(EventType.RebuildFinished, 'normal', obj, 'InSync', `replica ${r.id} of volume ${v.name} on ${r.nodeId}/${r.poolId} is rebuilt and in sync`, ids(r));
    }
    if (p.status !== 'faulted' && r.status === 'faulted') {
      const why = r.faultedReason ?? 'its node or pool failed';
      emit(EventType.ReplicaFaulted, 'warning', obj, 'ReplicaFaulted', `replica ${r.id} of volume ${v.name} on ${r.nodeId}/${r.poolId} faulted: ${why}`, ids(r));
      if (p.awaitingRebuild) emit(EventType.RebuildFailed, 'warning', obj, 'ReplicaFaulted', `the rebuild of replica ${r.id} of volume ${v.name} failed: ${why}`, ids(r));
    }
  }
  for (const p of b.replicas) {
    if (now.has(p.id)) continue;
    const why = p.faultedReason ?? (p.status === 'online' ? 'no longer needed' : `it was ${p.status}`);
    if (p.awaitingRebuild && p.status !== 'faulted') {
      emit(EventType.RebuildFailed, 'warning', obj, 'ReplicaRemoved', `the rebuild of replica ${p.id} of volume ${v.name} did not finish: the replica was removed (${why})`, ids(p));
    }
    emit(EventType.ReplicaRetired, p.status === 'online' ? 'normal' : 'warning', obj, p.faultedReason !== undefined ? 'Faulted' : 'Removed',
      `replica ${p.id} of volume ${v.name} on ${p.nodeId}/${p.poolId} retired: ${why}`, ids(p));
  }
}

function diffSnapshots(prev: Observation, next: Observation, emit: Emit): void {
  const before = byId(prev.snapshots);
  const now = byId(next.snapshots);
  const volumeName = new Map(next.volumes.map((v) => [v.id, v.name]));
  for (const s of next.snapshots) {
    if (before.has(s.id)) continue;
    emit(EventType.SnapshotTaken, 'normal', { kind: ObjectKind.Snapshot, id: s.id, name: s.name }, 'Taken',
      `snapshot ${s.name} of volume ${volumeName.get(s.volumeId) ?? s.volumeId} taken (${s.sizeBytes} bytes)`, { snapshotId: s.id, volumeId: s.volumeId });
  }
  for (const s of prev.snapshots) {
    if (now.has(s.id)) continue;
    emit(EventType.SnapshotDeleted, 'normal', { kind: ObjectKind.Snapshot, id: s.id, name: s.name }, 'Deleted', `snapshot ${s.name} deleted`, { snapshotId: s.id, volumeId: s.volumeId });
  }
}
