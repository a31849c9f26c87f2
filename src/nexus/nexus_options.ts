import type { Logger } from '../util/log.ts';
import type { ChildStateName, NexusChildSpec } from './nexus_child.ts';
import type { RebuildThrottleModeName } from './rebuild_throttle.ts';
import type { HoldTimer } from './nexus_write_hold.ts';

/** Replicas per volume: the StorageClass allows 1–5. */
export const NEXUS_MAX_CHILDREN = 5;
/** A child silent this long is retired: the bound on how long a failure stalls the initiator. */
export const NEXUS_OP_TIMEOUT_MS_DEFAULT = 5000;
/**
 * Which in-sync child serves a read.
 * - prefer-local (default): the child on the nexus's own node (a LocalReplica, read
 *   in-process) serves every read while it keeps up; a read goes to a remote in-sync
 *   child only when the local one is saturated (reads queue there and its recent latency
 *   is several times what the best remote gives) or when there is no in-sync local
 *   child, in which case reads are balanced across the remotes as `balanced` does. A
 *   remote read costs a round trip plus the CPU of two network stacks and a replica
 *   server; on a node where that CPU is shared, spreading reads makes them slower.
 * - balanced: every read goes to the in-sync child with the least expected wait (reads
 *   in flight there times its recent latency), local or not.
 */
export const NexusReadPolicy = { PREFER_LOCAL: 'prefer-local', BALANCED: 'balanced' } as const;
export type NexusReadPolicyName = (typeof NexusReadPolicy)[keyof typeof NexusReadPolicy];
export const NEXUS_READ_POLICY_DEFAULT: NexusReadPolicyName = NexusReadPolicy.PREFER_LOCAL;

/** Coarse granularity of the write-intent map (one bit per region; see WriteIntentMap). */
export const NEXUS_REGION_BYTES_DEFAULT = 1024 * 1024;
/** Fine granularity of the write-intent map inside partly-written regions: a resync copies about what was written. */
export const NEXUS_INTENT_GRAIN_BYTES_DEFAULT = 4096;

export interface NexusOptions {
  name: string;
  /** This incarnation's generation: higher than every earlier nexus of the volume. */
  generation: number;
  children: NexusChildSpec[];
  /**
   * Children that must accept this generation for create to succeed (default 1). An
   * older incarnation keeps writing to any replica it can still reach that was not
   * fenced, so to move a nexus whose old node may still be alive, require every
   * replica the old one had in sync.
   */
  requireFenced?: number;
  /**
   * Children that must have accepted this generation (at create, or later through
   * addChild/rejoin) before the nexus serves any I/O; until then it is `no-quorum`.
   * Default: `requireFenced` (at least 1), so a nexus created successfully serves at
   * once. The engine sets a majority of the saved membership when it restarts a nexus
   * (restartQuorum, nexus_quorum.ts).
   */
  quorum?: number;
  opTimeoutMs?: number;
  regionBytes?: number;
  /** Grain of the write-intent map (NEXUS_INTENT_GRAIN_BYTES_DEFAULT); the region size or more keeps it coarse. */
  intentGrainBytes?: number;
  /** A hard cap on rebuild bytes per second; 0 or undefined for none. */
  rebuildThrottleBytesPerSec?: number;
  /** Whether rebuilds yield to foreground I/O (RebuildThrottle); default adaptive. */
  rebuildThrottleMode?: RebuildThrottleModeName;
  rebuildParallel?: number;
  /** See NexusReadPolicy; default NEXUS_READ_POLICY_DEFAULT. */
  readPolicy?: NexusReadPolicyName;
  /** The lease timer of the snapshot barrier's write pause (tests inject one). */
  holdTimer?: HoldTimer;
  log?: Logger;
}

export interface AddChildOptions {
  /** Copy every region even if the nexus tracked what this child missed. */
  full?: boolean;
  /** The device reads zeros everywhere (a new thin replica): skip unmapping holes. */
  blankTarget?: boolean;
  throttleBytesPerSec?: number;
}

/** How a rebuild ended: the child's state afterwards. */
export type RebuildOutcome = ChildStateName | 'removed';
