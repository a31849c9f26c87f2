import type { BlockDevice } from '../block/block_device.ts';
import type { WriteIntentMap } from './write_intent_map.ts';
import type { RebuildJob, RebuildProgress } from './rebuild_job.ts';
import { ChildInvalidError } from './nexus_errors.ts';

/**
 * The state of one child (replica) of a nexus.
 * - online: in sync; receives every write, unmap and flush, and serves reads.
 * - rebuilding: being brought in sync by a rebuild job; receives every write, unmap and
 *   flush (all regions, copied or not: the copy runs under a region lock, so the two
 *   never race), but serves no reads. Its acks do not count toward a write's success.
 * - stale: attached but known to be missing writes (e.g. it came back after an absence
 *   and no rebuild is running yet, or a rebuild stopped because the source failed);
 *   receives no I/O; its write-intent map keeps growing until a rebuild starts.
 * - faulted: retired after an I/O error, a timeout or a lost connection; receives no
 *   I/O. Writes it misses are tracked so that it can return with a delta resync.
 * "Degraded" is a state of the nexus (see NexusState), not of a child.
 */
export const ChildState = {
  ONLINE: 'online',
  REBUILDING: 'rebuilding',
  STALE: 'stale',
  FAULTED: 'faulted',
} as const;
export type ChildStateName = (typeof ChildState)[keyof typeof ChildState];

/**
 * The state of a nexus as a whole.
 * - online: every child online.
 * - degraded: at least one child online, some not (rebuilding, stale or faulted).
 * - faulted: no child online; I/O fails until one is brought back.
 * - no-quorum: fewer replicas than the nexus's quorum have accepted its generation yet
 *   (e.g. restarted while cut off from its peers); serves no I/O until enough accept,
 *   or turns fenced when one answers with a newer generation.
 * - fenced: a replica reported a newer generation; this nexus serves no more I/O and
 *   must be destroyed (a newer incarnation owns the volume).
 * - closed: closed by its owner.
 */
export const NexusState = {
  ONLINE: 'online',
  DEGRADED: 'degraded',
  FAULTED: 'faulted',
  FENCED: 'fenced',
  NO_QUORUM: 'no-quorum',
  CLOSED: 'closed',
} as const;
export type NexusStateName = (typeof NexusState)[keyof typeof NexusState];

/** Where a child reports a write sent with `submitWrite`: `err` undefined means acknowledged. */
export interface ChildWriteSink {
  writeDone(tag: number, err: Error | undefined): void;
}

/** Extras a child device may offer; the nexus uses them when present. */
export interface ChildDeviceExtras {
  /**
   * `write` reported to `sink.writeDone(tag, err)` instead of through a promise, never
   * before it returns (RemoteReplica): no promise and no closures per child per write.
   */
  submitWrite?(lba: number, data: Buffer, fua: boolean, sink: ChildWriteSink, tag: number): void;
  /** Raises the replica's fence generation (RemoteReplica). */
  fence?(generation: number): Promise<void>;
  /** Reports a broken connection before any I/O notices (RemoteReplica). */
  onFailed?(listener: (err: Error) => void): void;
  /** The replica is on the nexus's own node, used in-process (LocalReplica): the prefer-local read policy favours it. */
  readonly local?: boolean;
}

export interface NexusChildSpec {
  /** Stable identity of the replica: a returning child is matched by name. */
  name: string;
  device: BlockDevice & ChildDeviceExtras;
  /** Initial state; default online. A stale child joins with `intents` or a full map. */
  state?: typeof ChildState.ONLINE | typeof ChildState.STALE;
  /** For a stale child: the regions it misses (e.g. persisted by the engine). */
  intents?: WriteIntentMap;
  /** Overrides `device.local` (e.g. a test double standing for the local replica). */
  local?: boolean;
  /** Called once when the nexus lets go of the device (retired, removed, closed). */
  release?: () => void;
}

export interface ChildInfo {
  name: string;
  state: ChildStateName;
  reason?: string;
  /** Bytes of regions this child is known to miss (0 when online). */
  missingBytes: number;
  rebuild?: RebuildProgress;
  /** I/O sent to this child (retries included), by CHILD_IO_KINDS slot; live arrays, read by /metrics. */
  ioOps: Float64Array;
  ioBytes: Float64Array;
}

/** Slots of NexusChild.ioOps/ioBytes: a MirrorKind's slot is its code + 1. */
export const CHILD_IO_KINDS = ['read', 'write', 'unmap', 'flush'] as const;

export class NexusChild {
  readonly name: string;
  readonly device: BlockDevice & ChildDeviceExtras;
  readonly release: (() => void) | undefined;
  /** On the nexus's own node: see NexusReadPolicy. */
  readonly local: boolean;
  state: ChildStateName;
  reason: string | undefined;
  /** Reads and map queries in flight: the read balancer weighs them by readMs. */
  outstanding = 0;
  /** Recent read latency, ms (moving average): a local replica answers in microseconds, a remote one in a round trip. */
  readMs = 0;
  rebuild: RebuildJob | undefined;
  /** See ChildInfo: plain counters bumped as I/O is sent, so the data path hashes nothing. */
  readonly ioOps = new Float64Array(CHILD_IO_KINDS.length);
  readonly ioBytes = new Float64Array(CHILD_IO_KINDS.length);
  private released = false;

  constructor(spec: NexusChildSpec, state: ChildStateName) {
    this.name = spec.name;
    this.device = spec.device;
    this.release = spec.release;
    this.local = spec.local ?? spec.device.local === true;
    this.state = state;
  }

  /** Lets go of the device once. */
  letGo(): void {
    if (this.released) return;
    this.released = true;
    this.release?.();
  }
}

/** Checks a nexus's initial children and derives the volume's geometry from them. */
export function childGeometry(specs: readonly NexusChildSpec[], maxChildren: number): { blockSize: number; blockCount: number; thin: boolean } {
  if (specs.length < 1 || specs.length > maxChildren) throw new ChildInvalidError(`a nexus has 1..${maxChildren} children`);
  if (new Set(specs.map((s) => s.name)).size !== specs.length) throw new ChildInvalidError('child names must be unique');
  const blockSize = specs[0].device.blockSize;
  if (specs.some((s) => s.device.blockSize !== blockSize)) throw new ChildInvalidError('children differ in block size');
  return {
    blockSize,
    blockCount: Math.min(...specs.map((s) => s.device.blockCount)),
    thin: specs.every((s) => s.device.thin),
  };
}
