/** The SCSI command sets (SPC-4, SBC-3) over a BlockDevice; knows nothing of iSCSI. */
export { ScsiTargetDevice, LunExistsError, LunNotFoundError } from './target_device.ts';
export type { LogicalUnit } from './logical_unit.ts';
export { buildSense, parseSense } from './sense.ts';
export { ScsiStatus } from './types.ts';
export { IoStats, IO_KINDS, LATENCY_BUCKETS_SECONDS, SENSE_KEY_COUNT } from './io_stats.ts';
export type {
  ITNexus, LogicalUnitConfig, PrStore, ScsiResponse, ScsiTarget, ScsiTask,
} from './types.ts';
