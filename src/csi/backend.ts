/**
 * What the CSI controller needs from the control plane, and nothing more. The
 * controller never touches the store: it calls this interface, which the control
 * plane's REST client implements (rest_control_plane.ts); FakeControlPlane is the
 * in-memory stand-in for tests and `--control-plane fake`.
 *
 * Every method is idempotent in the way its comment says, and fails only with the
 * BerthError classes in csi_errors.ts, so status_map.ts can name the gRPC code.
 */
import type { Publication } from './capabilities.ts';
import type { VolumeParameters } from './parameters.ts';
import type { ChapCredentials, ChapMode } from './chap_secrets.ts';

/** Topology segments, e.g. { 'topology.berth.io/zone': 'a', 'topology.berth.io/node': 'n1' }. */
export type TopologySegment = Readonly<Record<string, string>>;

export interface TopologyNeed {
  /** The volume must be reachable from at least one of these. Empty: anywhere. */
  requisite: TopologySegment[];
  /** Try these first, in order. */
  preferred: TopologySegment[];
}

export type ContentSource = { kind: 'snapshot'; snapshotId: string } | { kind: 'volume'; volumeId: string };

export interface VolumeCondition {
  abnormal: boolean;
  message: string;
}

export interface Volume {
  id: string;
  /** The CSI name the volume was created with (the PV name under Kubernetes). */
  name: string;
  capacityBytes: number;
  parameters: VolumeParameters;
  /** The parameters as given, minus sidecar keys (a record; retries are compared on `parameters`, normalized). */
  definingParameters: Readonly<Record<string, string>>;
  accessibleTopology: TopologySegment[];
  contentSource?: ContentSource;
  publications: Publication[];
  condition: VolumeCondition;
}

export interface CreateVolumeArgs {
  name: string;
  /** Already rounded and checked by the controller. */
  capacityBytes: number;
  parameters: VolumeParameters;
  definingParameters: Readonly<Record<string, string>>;
  topology?: TopologyNeed;
  contentSource?: ContentSource;
}

/** What the node plugin needs to reach the volume: the iSCSI target serving its nexus. */
export interface PublishContext {
  targetPortal: string;
  targetIqn: string;
  lun: number;
  /** Set when every export of the volume demands CHAP (the node must bring node-stage credentials). */
  chap?: ChapMode;
}

export interface Snapshot {
  id: string;
  name: string;
  sourceVolumeId: string;
  sizeBytes: number;
  createdAtMs: number;
  readyToUse: boolean;
  /** Set on a member of a group snapshot (CSI Snapshot.group_snapshot_id). */
  groupSnapshotId?: string;
}

export interface Page<T> {
  items: T[];
  /** Empty when there is no more. */
  nextToken: string;
}

export interface PageRequest {
  /** 0: as many as the server likes. */
  maxEntries: number;
  /** Empty: from the start. A token the server did not issue → InvalidPageTokenError. */
  startingToken: string;
}

export interface Capacity {
  availableBytes: number;
  maximumVolumeSize?: number;
  minimumVolumeSize?: number;
}

export interface ControlPlaneClient {
  /**
   * The volume with this CSI name, if any, with the parameters it was created with (the
   * controller compares their normalized form, parameters_canonical.ts, with a retry's;
   * fsType included). createVolume must still answer the existing volume or
   * NameConflictError itself, for a create racing another controller.
   */
  findVolumeByName(name: string): Promise<Volume | undefined>;
  /**
   * Creates the volume. A second call with the same name returns the existing volume if
   * it matches, else NameConflictError. CapacityExhaustedError when nothing can place
   * it; SourceNotFoundError when the content source is gone.
   */
  createVolume(args: CreateVolumeArgs): Promise<Volume>;
  /** Deletes the volume; not an error when it does not exist. InUseError while published. */
  deleteVolume(volumeId: string): Promise<void>;
  /** The volume with its publications and condition, or undefined. */
  getVolume(volumeId: string): Promise<Volume | undefined>;
  /**
   * Makes the volume reachable from the node (nexus there or near, ACL for its initiator).
   * Idempotent for the same node and publication. NodeNotFoundError, VolumeNotFoundError,
   * NodeVolumeLimitError. With `chap`, every export of the volume demands it.
   */
  publish(volumeId: string, publication: Publication, chap?: ChapCredentials): Promise<PublishContext>;
  /** Removes the node's access; not an error when not published or when the volume is gone. */
  unpublish(volumeId: string, nodeId: string): Promise<void>;
  listVolumes(page: PageRequest): Promise<Page<Volume>>;
  /** Free bytes for volumes with these parameters, within the segment when one is given. */
  getCapacity(parameters: VolumeParameters, segment?: TopologySegment): Promise<Capacity>;
  findSnapshotByName(name: string): Promise<Snapshot | undefined>;
  /** Cuts a snapshot. Same name and source → the same snapshot; other source → NameConflictError. */
  createSnapshot(name: string, sourceVolumeId: string): Promise<Snapshot>;
  /** Not an error when it does not exist. InUseError while a clone still reads from it. */
  deleteSnapshot(snapshotId: string): Promise<void>;
  listSnapshots(filter: { sourceVolumeId?: string; snapshotId?: string }, page: PageRequest): Promise<Page<Snapshot>>;
  /** Grows the volume to at least requiredBytes; never shrinks. Returns the new size. */
  expandVolume(volumeId: string, requiredBytes: number): Promise<number>;
  /**
   * Applies mutable parameters (ControllerModifyVolume): the wanted replica count. The
   * same count again is a no-op. VolumeNotFoundError; PublishedElsewhereError when a
   * count is lowered while the volume is published.
   */
  modifyVolume(volumeId: string, changes: { replicas?: number }): Promise<void>;
}
