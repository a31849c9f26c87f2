/**
 * Control-plane error codes (docs/control-plane-api.md, "Errors") as the CSI driver's
 * errors, so status_map.ts picks the gRPC code. Pure. The subject of the call decides
 * which "not found" it is: a 404 on publish may be the node, not the volume.
 */
import {
  CapacityExhaustedError,
  CapacityOutOfRangeError,
  ControlPlaneUnavailableError,
  InUseError,
  InvalidArgumentError,
  NameConflictError,
  NodeNotFoundError,
  OperationPendingError,
  PreconditionError,
  PublishedElsewhereError,
  SnapshotNotFoundError,
  VolumeNotFoundError,
} from './csi_errors.ts';
import { RestError } from './rest_transport.ts';
import { BerthError } from '../util/errors.ts';

/** The control plane answered NOT_IMPLEMENTED; same code as UnsupportedError, so UNIMPLEMENTED. */
export class ControlPlaneUnsupportedError extends BerthError {
  constructor(detail: string) {
    super('CSI_UNSUPPORTED', `the control plane cannot do this yet: ${detail}`);
  }
}

/** What the failed call was about; names go into the mapped error's message. */
export interface RestSubject {
  volumeId?: string;
  volumeName?: string;
  snapshotId?: string;
  snapshotName?: string;
  nodeId?: string;
  /** The call was a delete: a conflict there means "still in use". */
  deleting?: boolean;
}

/** Any error from RestTransport as a driver error; others pass through unchanged. */
export function mapRestError(err: unknown, s: RestSubject): unknown {
  if (!(err instanceof RestError)) return err;
  const code = err.restCode;
  const detail = err.detail;
  switch (code) {
    case 'VOLUME_NOT_FOUND':
      return new VolumeNotFoundError(s.volumeId ?? s.volumeName ?? '?');
    case 'NODE_NOT_FOUND':
      return new NodeNotFoundError(s.nodeId ?? '?');
    case 'SNAPSHOT_NOT_FOUND':
      return new SnapshotNotFoundError(s.snapshotId ?? '?');
    case 'VOLUME_EXISTS':
      return new NameConflictError('volume', s.volumeName ?? '?', `other parameters (${detail})`);
    case 'SNAPSHOT_EXISTS':
      return new NameConflictError('snapshot', s.snapshotName ?? '?', `another source volume (${detail})`);
    case 'VOLUME_PUBLISHED':
      return s.deleting ? new InUseError(detail) : new PublishedElsewhereError(s.volumeId ?? '?', [publishedNodeOf(detail)]);
    case 'OPERATION_IN_PROGRESS':
      return new OperationPendingError(s.volumeId ?? s.volumeName ?? s.snapshotId ?? 'the resource');
    case 'PLACEMENT_FAILED':
    case 'NO_SPACE':
    case 'TOO_MANY_VOLUMES':
      return new CapacityExhaustedError(detail);
    case 'SHRINK_NOT_SUPPORTED':
      return new CapacityOutOfRangeError(detail);
    case 'NOT_IMPLEMENTED':
      return new ControlPlaneUnsupportedError(detail);
    case 'CHAP_CONFLICT':
      return new PreconditionError(detail);
    default:
      break;
  }
  if (err.status === 404) {
    // A route the control plane does not have (an older version) is not a missing volume.
    if (code === 'ROUTE_NOT_FOUND') return new ControlPlaneUnsupportedError(`this control plane has no such route (${detail})`);
    return s.volumeId !== undefined ? new VolumeNotFoundError(s.volumeId) : new ControlPlaneUnavailableError(detail);
  }
  if (err.status === 400) return new InvalidArgumentError(detail);
  if (err.status === 409) return s.deleting ? new InUseError(detail) : new OperationPendingError(s.volumeId ?? s.volumeName ?? 'the resource');
  if (err.status === 501) return new ControlPlaneUnsupportedError(detail);
  // 5xx other than the above (engine unreachable, store down, timeouts): the CO retries.
  return new ControlPlaneUnavailableError(detail);
}

/** "volume X is published to node N" → N; the message is the control plane's. */
function publishedNodeOf(message: string): string {
  const m = /published to node (\S+)/.exec(message);
  return m ? m[1] : 'another node';
}
