/**
 * The decoded shapes of the CSI messages Berth reads and writes, as proto-loader gives
 * them with keepCase, longs as String, enums as String, defaults and oneofs. Only the
 * fields Berth uses are listed. int64 fields arrive as strings; replies may use numbers.
 */

export type StringMap = Record<string, string>;
export type Int64 = string | number;

export interface CapacityRange {
  required_bytes: Int64;
  limit_bytes: Int64;
}

export interface Topology {
  segments: StringMap;
}

export interface TopologyRequirement {
  requisite: Topology[];
  preferred: Topology[];
}

export interface MountVolume {
  fs_type: string;
  mount_flags: string[];
  volume_mount_group: string;
}

export interface VolumeCapability {
  block?: Record<string, never> | null;
  mount?: MountVolume | null;
  access_type?: 'block' | 'mount';
  access_mode?: { mode: string } | null;
}

export interface VolumeContentSource {
  snapshot?: { snapshot_id: string } | null;
  volume?: { volume_id: string } | null;
  type?: 'snapshot' | 'volume';
}

export interface VolumeMessage {
  capacity_bytes: Int64;
  volume_id: string;
  volume_context: StringMap;
  content_source?: VolumeContentSource | null;
  accessible_topology: Topology[];
}

export interface VolumeConditionMessage {
  abnormal: boolean;
  message: string;
}

export interface SnapshotMessage {
  size_bytes: Int64;
  snapshot_id: string;
  source_volume_id: string;
  creation_time: { seconds: Int64; nanos: number };
  ready_to_use: boolean;
  group_snapshot_id: string;
}

export interface CreateVolumeRequest {
  name: string;
  capacity_range?: CapacityRange | null;
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  secrets: StringMap;
  volume_content_source?: VolumeContentSource | null;
  accessibility_requirements?: TopologyRequirement | null;
  /** VolumeAttributesClass parameters (mutable_parameters.ts). */
  mutable_parameters?: StringMap;
}

export interface ControllerModifyVolumeRequest {
  volume_id: string;
  secrets?: StringMap;
  mutable_parameters?: StringMap;
}

export interface ControllerPublishVolumeRequest {
  volume_id: string;
  node_id: string;
  volume_capability?: VolumeCapability | null;
  readonly: boolean;
  /** The StorageClass's controller-publish secret (CHAP credentials, chap_secrets.ts). */
  secrets?: StringMap;
  volume_context: StringMap;
}

export interface ListRequest {
  max_entries: number;
  starting_token: string;
}

export interface NodeStageVolumeRequest {
  volume_id: string;
  publish_context: StringMap;
  staging_target_path: string;
  volume_capability?: VolumeCapability | null;
  secrets: StringMap;
  volume_context: StringMap;
}

export interface NodePublishVolumeRequest {
  volume_id: string;
  publish_context: StringMap;
  staging_target_path: string;
  target_path: string;
  volume_capability?: VolumeCapability | null;
  readonly: boolean;
  volume_context: StringMap;
}

export interface NodeExpandVolumeRequest {
  volume_id: string;
  volume_path: string;
  capacity_range?: CapacityRange | null;
  staging_target_path: string;
  volume_capability?: VolumeCapability | null;
}

/** A handler takes the decoded request and resolves the reply or throws a BerthError. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UnaryHandler = (request: any) => Promise<object>;
export type HandlerTable = Record<string, UnaryHandler>;

export interface GetCapacityRequest {
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  accessible_topology?: Topology | null;
}

export interface ValidateVolumeCapabilitiesRequest {
  volume_id: string;
  volume_context: StringMap;
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
}

export interface ControllerExpandVolumeRequest {
  volume_id: string;
  capacity_range?: CapacityRange | null;
  volume_capability?: VolumeCapability | null;
}
