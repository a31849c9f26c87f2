/** Resource specs (desired state), reported states, and the intent log. */
export * from './spec_common.ts';
export * from './node_spec.ts';
export * from './pool_spec.ts';
export * from './volume_spec.ts';
export * from './replica_spec.ts';
export * from './nexus_spec.ts';
export * from './snapshot_spec.ts';
export * from './group_snapshot_spec.ts';
export { IntentLog, OperationInProgressError, type IntentRecord, type PendingOperation, type Ticket, type Resolution, type IntentLogOptions } from './intent_log.ts';
