import type { SpecLifecycle } from './spec_common.ts';

/** Failure domain replicas spread over (see docs/placement.md). */
export interface VolumeSpread {
  readonly domain: 'zone' | 'storageGroup' | 'node';
  /** StorageClass `spreadStrict`: refuse rather than share the domain. */
  readonly strict: boolean;
}

/** adaptive: rebuilds yield to foreground I/O; fixed: only the byte cap applies (0 or unset = none). */
export interface VolumeRebuildThrottle {
  readonly mode?: 'adaptive' | 'fixed';
  readonly bytesPerSec?: number;
}

/** A volume: what a PVC (or an operator) asked for. */
export interface VolumeSpec {
  readonly id: string;
  /** The CSI name: the same name with the same parameters is the same volume. */
  readonly name: string;
  readonly sizeBytes: number;
  /** Wanted replica count, 1–5. */
  readonly replicas: number;
  readonly thin: boolean;
  readonly media?: 'hdd' | 'ssd';
  readonly requiredTags: readonly string[];
  readonly excludedTags: readonly string[];
  readonly storageGroup?: string;
  readonly spread: VolumeSpread;
  readonly encrypted: boolean;
  readonly qos?: { readonly maxIops?: number; readonly maxBandwidthBytes?: number };
  /**
   * How its rebuilds share the nodes with its users, handed to every nexus the control plane
   * creates for it (docs/nexus.md "Rebuild throttle"); unset parts follow the engine's default
   * (`--rebuild-throttle-mode`, adaptive). Not part of the volume's identity.
   */
  readonly rebuildThrottle?: VolumeRebuildThrottle;
  /** The snapshot a clone was made from. */
  readonly sourceSnapshotId?: string;
  /** The volume a clone was copied from (as it was when the clone was made). */
  readonly sourceVolumeId?: string;
  /**
   * A client's own facts about the volume, kept and returned as given (the CSI driver
   * keeps its normalized StorageClass parameters, fsType among them, here).
   */
  readonly attributes?: Readonly<Record<string, string>>;
  /**
   * A zone-local volume (CSI `locality: zone`): every replica stays in this zone, also
   * when one is replaced after a node loss. Absent: replicas go anywhere.
   */
  readonly zone?: string;
  /** Node the volume is published to (where its nexus should run), if any. */
  readonly publishedNodeId?: string;
  readonly lifecycle: SpecLifecycle;
}

/** A volume's health, derived from its nexus and replicas. */
export const VolumeStatus = {
  /** Not yet serving: replicas or nexus still being created. */
  Pending: 'pending',
  /** Every wanted replica is healthy. */
  Online: 'online',
  /** Serving with fewer healthy replicas than wanted (one may be rebuilding). */
  Degraded: 'degraded',
  /** No healthy replica: data unavailable until one returns. */
  Faulted: 'faulted',
} as const;
export type VolumeStatus = (typeof VolumeStatus)[keyof typeof VolumeStatus];
