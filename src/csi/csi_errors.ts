/**
 * The CSI driver's errors. They name storage facts (a volume is missing, a name is
 * taken), never gRPC codes: status_map.ts is the one place that picks the wire code.
 * Messages never carry secrets.
 */
import { BerthError } from '../util/errors.ts';

/** A request field the spec requires is empty. */
export class MissingFieldError extends BerthError {
  constructor(field: string) {
    super('CSI_MISSING_FIELD', `${field} is required`);
  }
}

/** A request field, StorageClass parameter or capability Berth cannot accept. */
export class InvalidArgumentError extends BerthError {
  constructor(message: string) {
    super('CSI_INVALID_ARGUMENT', message);
  }
}

export class VolumeNotFoundError extends BerthError {
  constructor(volumeId: string) {
    super('CSI_VOLUME_NOT_FOUND', `volume ${volumeId} does not exist`);
  }
}

export class SnapshotNotFoundError extends BerthError {
  constructor(snapshotId: string) {
    super('CSI_SNAPSHOT_NOT_FOUND', `snapshot ${snapshotId} does not exist`);
  }
}

export class GroupSnapshotNotFoundError extends BerthError {
  constructor(groupSnapshotId: string) {
    super('CSI_GROUP_SNAPSHOT_NOT_FOUND', `group snapshot ${groupSnapshotId} does not exist`);
  }
}

export class NodeNotFoundError extends BerthError {
  constructor(nodeId: string) {
    super('CSI_NODE_NOT_FOUND', `node ${nodeId} is not known to the control plane`);
  }
}

/** The content source of a CreateVolume (snapshot or volume) is gone. */
export class SourceNotFoundError extends BerthError {
  constructor(kind: 'snapshot' | 'volume', id: string) {
    super('CSI_SOURCE_NOT_FOUND', `source ${kind} ${id} does not exist`);
  }
}

/** The name is taken by a volume or snapshot made with other arguments. */
export class NameConflictError extends BerthError {
  constructor(kind: 'volume' | 'snapshot' | 'group snapshot', name: string, why: string) {
    super('CSI_NAME_CONFLICT', `${kind} ${name} already exists with ${why}`);
  }
}

/** The volume is published where the request is incompatible with that publication. */
export class PublishConflictError extends BerthError {
  constructor(message: string) {
    super('CSI_PUBLISH_CONFLICT', message);
  }
}

/** Single-node access mode and another node already holds the volume. */
export class PublishedElsewhereError extends BerthError {
  constructor(volumeId: string, nodeIds: readonly string[]) {
    super('CSI_PUBLISHED_ELSEWHERE', `volume ${volumeId} is published to ${nodeIds.join(', ')} and its access mode allows one node`);
  }
}

/** Deleting or changing something that is still used (published volume, staged volume). */
export class InUseError extends BerthError {
  constructor(message: string) {
    super('CSI_IN_USE', message);
  }
}

/** Not enough free space, or nowhere in the requested topology to place the volume. */
export class CapacityExhaustedError extends BerthError {
  constructor(message: string) {
    super('CSI_CAPACITY_EXHAUSTED', message);
  }
}

/** The node reached its volume limit. */
export class NodeVolumeLimitError extends BerthError {
  constructor(nodeId: string, limit: number) {
    super('CSI_NODE_VOLUME_LIMIT', `node ${nodeId} already holds its limit of ${limit} volumes`);
  }
}

/** A capacity range Berth cannot satisfy (below a snapshot's size, beyond maxVolumeSize...). */
export class CapacityOutOfRangeError extends BerthError {
  constructor(message: string) {
    super('CSI_CAPACITY_OUT_OF_RANGE', message);
  }
}

/** A starting_token that this driver did not hand out, or whose list has changed under it. */
export class InvalidPageTokenError extends BerthError {
  constructor(token: string) {
    super('CSI_INVALID_PAGE_TOKEN', `starting_token ${JSON.stringify(token.slice(0, 64))} is not valid; list again from the start`);
  }
}

/** Another call for the same volume, snapshot or name is still running. */
export class OperationPendingError extends BerthError {
  constructor(key: string) {
    super('CSI_OPERATION_PENDING', `an operation on ${key} is already in progress`);
  }
}

/** The call needs a step that has not happened (publish before stage, unstage while published). */
export class PreconditionError extends BerthError {
  constructor(message: string) {
    super('CSI_PRECONDITION', message);
  }
}

/** CHAP: the node holds no credentials for a target that demands them, or the target refused them. */
export class UnauthenticatedError extends BerthError {
  constructor(message: string) {
    super('CSI_UNAUTHENTICATED', message);
  }
}

/** The target authenticated the initiator but does not let it in (ACL: not this node's volume). */
export class PermissionDeniedError extends BerthError {
  constructor(message: string) {
    super('CSI_PERMISSION_DENIED', message);
  }
}

/** The volume on the node exists but is not in the state the call expects. */
export class VolumePathNotFoundError extends BerthError {
  constructor(volumeId: string, path: string) {
    super('CSI_VOLUME_PATH_NOT_FOUND', `volume ${volumeId} is not staged or published at ${path}`);
  }
}

export class UnsupportedError extends BerthError {
  constructor(what: string) {
    super('CSI_UNSUPPORTED', `${what} is not supported by Berth`);
  }
}

/** A host tool (iscsiadm, mount, mkfs, losetup...) failed; the message holds its stderr tail. */
export class NodeCommandError extends BerthError {
  readonly exitCode: number;
  constructor(tool: string, exitCode: number, detail: string) {
    super('CSI_NODE_COMMAND_FAILED', `${tool} failed (exit ${exitCode}): ${detail}`);
    this.exitCode = exitCode;
  }
}

/** The attach path did not produce a device in time, or the session could not be made. */
export class AttachError extends BerthError {
  constructor(message: string) {
    super('CSI_ATTACH_FAILED', message);
  }
}

/** A control-plane call failed for a reason the driver cannot name (network, server fault). */
export class ControlPlaneUnavailableError extends BerthError {
  constructor(message: string) {
    super('CSI_CONTROL_PLANE_UNAVAILABLE', message);
  }
}
