/**
 * The only place where Berth errors become gRPC status codes. Codes follow the CSI
 * spec's per-RPC error tables; anything unnamed is INTERNAL with a generic message,
 * because an unexpected error's text may hold paths or secrets.
 */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { BerthError } from '../util/errors.ts';

const CODE_TO_STATUS: Record<string, status> = {
  CSI_MISSING_FIELD: status.INVALID_ARGUMENT,
  CSI_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  INVALID_SIZE: status.INVALID_ARGUMENT,
  CSI_VOLUME_NOT_FOUND: status.NOT_FOUND,
  CSI_SNAPSHOT_NOT_FOUND: status.NOT_FOUND,
  CSI_GROUP_SNAPSHOT_NOT_FOUND: status.NOT_FOUND,
  CSI_NODE_NOT_FOUND: status.NOT_FOUND,
  CSI_SOURCE_NOT_FOUND: status.NOT_FOUND,
  CSI_VOLUME_PATH_NOT_FOUND: status.NOT_FOUND,
  CSI_NAME_CONFLICT: status.ALREADY_EXISTS,
  CSI_PUBLISH_CONFLICT: status.ALREADY_EXISTS,
  CSI_PUBLISHED_ELSEWHERE: status.FAILED_PRECONDITION,
  CSI_IN_USE: status.FAILED_PRECONDITION,
  CSI_PRECONDITION: status.FAILED_PRECONDITION,
  CSI_CAPACITY_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  CSI_NODE_VOLUME_LIMIT: status.RESOURCE_EXHAUSTED,
  CSI_CAPACITY_OUT_OF_RANGE: status.OUT_OF_RANGE,
  CSI_INVALID_PAGE_TOKEN: status.ABORTED,
  CSI_OPERATION_PENDING: status.ABORTED,
  CSI_UNSUPPORTED: status.UNIMPLEMENTED,
  CSI_NODE_COMMAND_FAILED: status.INTERNAL,
  CSI_ATTACH_FAILED: status.UNAVAILABLE,
  CSI_UNAUTHENTICATED: status.UNAUTHENTICATED,
  CSI_PERMISSION_DENIED: status.PERMISSION_DENIED,
  CSI_CONTROL_PLANE_UNAVAILABLE: status.UNAVAILABLE,
};

export interface MappedStatus {
  code: status;
  details: string;
  /** The Berth error code, also sent as `berth-error-code` metadata for tools and tests. */
  berthCode: string;
}

export function mapError(err: unknown): MappedStatus {
  if (err instanceof BerthError) {
    const code = CODE_TO_STATUS[err.code];
    if (code !== undefined) return { code, details: err.message, berthCode: err.code };
    return { code: status.INTERNAL, details: err.message, berthCode: err.code };
  }
  return { code: status.INTERNAL, details: 'internal error in the Berth CSI driver (see its log)', berthCode: 'INTERNAL' };
}

export function toServiceError(err: unknown): Partial<ServiceError> {
  const mapped = mapError(err);
  const metadata = new Metadata();
  metadata.set('berth-error-code', mapped.berthCode);
  return { code: mapped.code, details: mapped.details, metadata };
}
