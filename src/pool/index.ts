export { Pool } from './pool.ts';
export type { PoolInfo, VolumeInfo, PoolCreateOptions } from './pool.ts';
export { Volume } from './pool_volume.ts';
export type { PoolCheckReport } from './pool_verify.ts';
export * from './pool_errors.ts';
export { crc32c } from '../util/crc32c.ts';
