/**
 * Control-plane events: what the control plane saw happen or did, and why, kept in a
 * bounded log in its store (event_log.ts) for the REST API, the CLI and the dashboard.
 * Plain JSON, so a record goes into the store as it is.
 */

/** Every kind of event, by the object it is about. */
export const EventType = {
  NodeOnline: 'NodeOnline',
  NodeOffline: 'NodeOffline',
  NodeLost: 'NodeLost',
  NodeBack: 'NodeBack',
  PoolDegraded: 'PoolDegraded',
  PoolFaulted: 'PoolFaulted',
  PoolOnline: 'PoolOnline',
  VolumeCreated: 'VolumeCreated',
  VolumeDeleted: 'VolumeDeleted',
  VolumeDegraded: 'VolumeDegraded',
  VolumeFaulted: 'VolumeFaulted',
  VolumeOnline: 'VolumeOnline',
  ReplicaFaulted: 'ReplicaFaulted',
  ReplicaRetired: 'ReplicaRetired',
  RebuildStarted: 'RebuildStarted',
  RebuildFinished: 'RebuildFinished',
  RebuildFailed: 'RebuildFailed',
  PlacementRefused: 'PlacementRefused',
  SnapshotTaken: 'SnapshotTaken',
  SnapshotDeleted: 'SnapshotDeleted',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
export const EVENT_TYPES: readonly EventType[] = Object.values(EventType);

export const ObjectKind = { Node: 'node', Pool: 'pool', Volume: 'volume', Snapshot: 'snapshot' } as const;
export type ObjectKind = (typeof ObjectKind)[keyof typeof ObjectKind];

/** normal: the system doing its job; warning: something an operator may need to look at. */
export type EventSeverity = 'normal' | 'warning';

/** Ids of everything an event touches, so a volume's page finds the node events of its replicas too. */
export interface InvolvedIds {
  readonly volumeId?: string;
  readonly nodeId?: string;
  readonly poolId?: string;
  readonly replicaId?: string;
  readonly snapshotId?: string;
}

/** An event before the log gives it an id. */
export interface EventDraft {
  readonly atMs: number;
  readonly type: EventType;
  readonly severity: EventSeverity;
  readonly object: { readonly kind: ObjectKind; readonly id: string; readonly name?: string };
  /** A short CamelCase cause (HeartbeatMissed, GracePeriodOver, FilterRuledOut…). */
  readonly reason: string;
  /** One sentence for people. */
  readonly message: string;
  readonly involved: InvolvedIds;
}

export interface ControlEvent extends EventDraft {
  /** Sortable and unique: 15-digit milliseconds, '-', a 6-digit sequence. Also the paging cursor. */
  readonly id: string;
  /** `atMs` as ISO 8601 UTC, for people and for tools that do not read epoch milliseconds. */
  readonly time: string;
}
