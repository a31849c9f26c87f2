/** The iSCSI target (RFC 7143): what the engine needs to serve ScsiTargets. */
export { IscsiServer } from './server.ts';
export type { ChapConfig, IscsiServerOptions, SessionInfo, TargetConfig } from './server.ts';
export { TargetExistsError, TargetNotFoundError } from './errors.ts';
export { iscsiCounters } from './counters.ts';
