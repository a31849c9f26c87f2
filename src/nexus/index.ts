// The nexus's front door: the mirror, its child states, and the pieces of a rebuild.
export { Nexus } from './nexus.ts';
export {
  NEXUS_MAX_CHILDREN, NEXUS_OP_TIMEOUT_MS_DEFAULT, NEXUS_READ_POLICY_DEFAULT, NEXUS_REGION_BYTES_DEFAULT, NexusReadPolicy,
  type NexusReadPolicyName, type AddChildOptions, type NexusOptions, type RebuildOutcome,
} from './nexus_options.ts';
export type { NexusEvent } from './nexus_events.ts';
export { CHILD_IO_KINDS, ChildState, NexusState, type ChildInfo, type ChildStateName, type NexusChildSpec, type NexusStateName, type ChildDeviceExtras } from './nexus_child.ts';
export { WriteIntentMap } from './write_intent_map.ts';
export { RebuildMap } from './rebuild_map.ts';
export { RebuildJob, type RebuildProgress } from './rebuild_job.ts';
export { RebuildThrottleMode, REBUILD_THROTTLE_MODE_DEFAULT, isRebuildThrottleMode, type RebuildThrottleModeName } from './rebuild_throttle.ts';
export {
  ChildInvalidError, ChildNotFoundError, ChildTimeoutError, NexusFaultedError, NexusFencedError, NexusNoQuorumError, RebuildCancelledError, RebuildTargetError,
} from './nexus_errors.ts';
export { QuorumVerdict, quorumVerdict, restartQuorum, safeTakeover, takeoverMinimum, type QuorumVerdictName } from './nexus_quorum.ts';
export {
  NexusWriteHold, WriteHoldBusyError, WriteHoldLostError, WRITE_HOLD_DEFAULT_LEASE_MS, WRITE_HOLD_MAX_LEASE_MS, type HoldTimer,
} from './nexus_write_hold.ts';
