import { BerthError } from '../util/errors.ts';

/** A newer nexus generation fenced a child: this nexus must not write (or read) again. */
export class NexusFencedError extends BerthError {
  constructor(message = 'nexus is fenced by a newer generation') { super('NEXUS_FENCED', message); }
}

/**
 * Fewer replicas than the quorum hold this nexus's generation: it may not serve yet,
 * since a newer incarnation could own the volume on the replicas it cannot reach.
 */
export class NexusNoQuorumError extends BerthError {
  constructor(message = 'nexus does not hold its generation on a quorum of replicas') { super('NEXUS_NO_QUORUM', message); }
}

/** No child is in sync: the volume cannot serve I/O. */
export class NexusFaultedError extends BerthError {
  constructor(message = 'no healthy replica left', options?: { cause?: unknown }) { super('NEXUS_FAULTED', message, options); }
}

/** A child did not answer within the nexus's op timeout. */
export class ChildTimeoutError extends BerthError {
  constructor(child: string, timeoutMs: number) { super('NEXUS_CHILD_TIMEOUT', `replica ${child} did not answer within ${timeoutMs} ms`); }
}

export class ChildNotFoundError extends BerthError {
  constructor(child: string) { super('NEXUS_CHILD_NOT_FOUND', `no replica ${child} in this nexus`); }
}

/** A child cannot join: wrong block size, too small, already present, too many children. */
export class ChildInvalidError extends BerthError {
  constructor(message: string) { super('NEXUS_CHILD_INVALID', message); }
}

/** A rebuild stopped before it finished (cancelled, or its target was retired). */
export class RebuildCancelledError extends BerthError {
  constructor(message = 'rebuild cancelled') { super('REBUILD_CANCELLED', message); }
}

/** The rebuild target failed an I/O: the target, not the volume, is at fault. */
export class RebuildTargetError extends BerthError {
  constructor(cause: unknown) {
    super('REBUILD_TARGET_FAILED', `rebuild target failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}
