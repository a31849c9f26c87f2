import type { SpecLifecycle } from './spec_common.ts';

/** The volume's front end: mirrors I/O over the replicas and exports the target. */
export interface NexusSpec {
  readonly id: string;
  readonly volumeId: string;
  readonly nodeId: string;
  /** Replica ids the nexus mirrors over. */
  readonly children: readonly string[];
  /**
   * Raised each time a nexus is (re)created for the volume; replicas refuse I/O from a
   * lower generation, so a stale nexus cut off by a partition cannot write.
   */
  readonly generation: number;
  readonly protocol: 'iscsi';
  readonly lifecycle: SpecLifecycle;
}

export const NexusStatus = {
  /** No report yet. */
  Unknown: 'unknown',
  /** All children online. */
  Online: 'online',
  /** Serving with a child faulted or rebuilding. */
  Degraded: 'degraded',
  /** No healthy child; I/O fails. */
  Faulted: 'faulted',
  /** Stopped on purpose (unpublished, or fenced by a newer generation). */
  Shutdown: 'shutdown',
} as const;
export type NexusStatus = (typeof NexusStatus)[keyof typeof NexusStatus];

export interface NexusState {
  readonly id: string;
  readonly status: NexusStatus;
  /** The target the initiator logs in to (IQN and portal). */
  readonly target?: { readonly iqn: string; readonly portal: string };
}
