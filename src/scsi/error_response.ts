import type { Logger } from '../util/log.ts';
import { errorCode } from '../util/errors.ts';
import { Asc, SenseKey } from './constants.ts';
import { buildSense, CheckConditionError, ReservationConflictError } from './sense.ts';
import { ScsiStatus, type ScsiResponse } from './types.ts';

/** Whether the failed command moved data toward the medium; picks the medium-error code. */
export type IoDirection = 'read' | 'write';

/**
 * The one place where errors become SCSI status and sense. Handlers throw
 * CheckConditionError for protocol faults; devices reject with BerthError codes
 * (block/errors.ts), which map here; anything else is an internal target failure.
 */
export function errorResponse(err: unknown, direction: IoDirection, logger: Logger): ScsiResponse {
  if (err instanceof CheckConditionError) return { status: ScsiStatus.CHECK_CONDITION, sense: err.toSense() };
  if (err instanceof ReservationConflictError) return { status: ScsiStatus.RESERVATION_CONFLICT };
  switch (errorCode(err)) {
    case 'NO_SPACE':
      return check(SenseKey.DATA_PROTECT, Asc.SPACE_ALLOCATION_FAILED_WRITE_PROTECT);
    case 'OUT_OF_RANGE':
      return check(SenseKey.ILLEGAL_REQUEST, Asc.LBA_OUT_OF_RANGE);
    case 'MEDIUM_ERROR':
      return direction === 'write'
        ? check(SenseKey.MEDIUM_ERROR, Asc.WRITE_ERROR)
        : check(SenseKey.MEDIUM_ERROR, Asc.UNRECOVERED_READ_ERROR);
    case 'DEVICE_GONE':
      return check(SenseKey.NOT_READY, Asc.LU_NOT_READY_CAUSE_NOT_REPORTABLE);
    // A newer nexus generation owns the volume elsewhere: this LU never serves again
    // (docs/nexus.md). Not retried by initiators, unlike "becoming ready".
    case 'NEXUS_FENCED':
      return check(SenseKey.NOT_READY, Asc.LU_NOT_READY_MANUAL_INTERVENTION_REQUIRED);
    // Restarted nexus waiting for a majority of its replicas: may become ready by itself.
    case 'NEXUS_NO_QUORUM':
      return check(SenseKey.NOT_READY, Asc.LU_NOT_READY_BECOMING_READY);
    default:
      logger.error({ err }, 'SCSI command failed unexpectedly');
      return check(SenseKey.HARDWARE_ERROR, Asc.INTERNAL_TARGET_FAILURE);
  }
}

function check(key: number, asc: number): ScsiResponse {
  return { status: ScsiStatus.CHECK_CONDITION, sense: buildSense(key, asc) };
}
