import type { Logger } from '../util/log.ts';
import type { ChildStateName, NexusChildSpec } from './nexus_child.ts';

/** Replicas per volume: the StorageClass allows 1–5. */
export const NEXUS_MAX_CHILDREN = 5;
/** A child silent this long is retired: the bound on how long a failure stalls the initiator. */
export const NEXUS_OP_TIMEOUT_MS_DEFAULT = 5000;
/** Granularity of the write-intent map and of rebuild copies. */
export const NEXUS_REGION_BYTES_DEFAULT = 1024 * 1024;

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
  opTimeoutMs?: number;
  regionBytes?: number;
  rebuildThrottleBytesPerSec?: number;
  rebuildParallel?: number;
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
