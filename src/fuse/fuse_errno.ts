/**
 * What a SCSI response means to a process on the export file, as an errno. The block
 * layer above (a loop device) turns every failure into EIO for its own callers anyway;
 * the distinctions matter to tools that use the file directly and to the export's counts.
 */
import { Asc, SenseKey } from '../scsi/constants.ts';
import { ScsiStatus, type ScsiResponse } from '../scsi/types.ts';
import { Errno } from './fuse_codec.ts';

/** How often a unit attention or a busy LU is retried before the request fails. */
export const RETRY_LIMIT = 8;

export function errnoOfResponse(res: ScsiResponse): number | 'retry' {
  if (res.status === ScsiStatus.BUSY || res.status === ScsiStatus.TASK_SET_FULL) return 'retry';
  if (res.status === ScsiStatus.RESERVATION_CONFLICT) return Errno.EACCES;
  if (res.status !== ScsiStatus.CHECK_CONDITION || !res.sense || res.sense.length < 14) return Errno.EIO;
  const key = res.sense[2] & 0x0f;
  const ascq = (res.sense[12] << 8) | res.sense[13];
  switch (key) {
    case SenseKey.UNIT_ATTENTION: return 'retry';
    case SenseKey.DATA_PROTECT: return ascq === Asc.SPACE_ALLOCATION_FAILED_WRITE_PROTECT ? Errno.ENOSPC : Errno.EROFS;
    case SenseKey.ILLEGAL_REQUEST: return ascq === Asc.LBA_OUT_OF_RANGE ? Errno.EFBIG : Errno.EINVAL;
    default: return Errno.EIO;
  }
}
