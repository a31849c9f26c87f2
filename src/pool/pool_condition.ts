/**
 * Whether an online pool can take new allocations, and why not. Pure: the pool feeds
 * it what it sees (its free extents, writes the host refused, probes of the host
 * filesystem) and logs each change it returns, so one line marks each transition
 * however many writes fail in between.
 *
 * - `ok`: allocations may succeed.
 * - `full`: the pool has no free extents of its own (thin writes to unallocated blocks
 *   and thick creates fail with NO_SPACE until something is unmapped or deleted).
 * - `hostFull`: the filesystem below a pool file refused blocks (ENOSPC, or EDQUOT for
 *   a spent quota). Writes that need new host blocks fail with NO_SPACE; the rest go on.
 *   It clears when the filesystem has room again — at least `needBytes` available, and
 *   more than at the refusal, so a filesystem with a little room left that could not
 *   take one write does not flap — or, for a quota, when the file has gained blocks.
 * A pool that is both reports `hostFull`: freeing pool extents alone does not help it.
 * - `syncFailed`: an fdatasync of the pool file failed. Writes made since the last good
 *   one may be missing from the device while the page cache still reads them back, and
 *   Linux reports such an error only once, so every flush fails from then on (pool_flush_group.ts).
 *   Only a new import, which reads what the device holds, clears it. It wins over the others.
 */
export type PoolCondition = 'ok' | 'full' | 'hostFull' | 'syncFailed';

export interface ConditionChange {
  condition: PoolCondition;
  previous: PoolCondition;
  reason?: string;
}

export interface HostProbe {
  availableBytes: number;
  backedBytes: number;
}

export class PoolConditionTracker {
  #full = false;
  #host: { code: string; at: HostProbe } | null = null;
  #syncFailed: string | null = null;

  get condition(): PoolCondition {
    if (this.#syncFailed !== null) return 'syncFailed';
    if (this.#host !== null) return 'hostFull';
    return this.#full ? 'full' : 'ok';
  }

  /** Why the condition is not `ok`; undefined when it is. */
  get reason(): string | undefined {
    if (this.#syncFailed !== null) {
      return `an fdatasync of the pool file failed (${this.#syncFailed}); writes since the last good one may not be on the device, so flushes fail until the pool is imported again`;
    }
    if (this.#host !== null) {
      return `host filesystem below the pool file is out of space (${this.#host.code}); writes that need new blocks fail until space is freed`;
    }
    return this.#full ? 'no free extents left in the pool' : undefined;
  }

  get hostFull(): boolean {
    return this.#host !== null;
  }

  /** The pool's own free space: `full` when no extent is free or reserved. */
  setFull(full: boolean): ConditionChange | null {
    return this.#change(() => { this.#full = full; });
  }

  /** The host refused a write or an allocation; a repeat while already refused changes nothing. */
  hostRefused(code: string, at: HostProbe): ConditionChange | null {
    if (this.#host !== null) return null;
    return this.#change(() => { this.#host = { code, at }; });
  }

  /** An fdatasync of the pool file failed (errno code); for the rest of this import. */
  syncFailed(code: string): ConditionChange | null {
    if (this.#syncFailed !== null) return null;
    return this.#change(() => { this.#syncFailed = code; });
  }

  /** A look at the host while `hostFull`: clears it once the filesystem has `needBytes` to give. */
  hostProbe(probe: HostProbe, needBytes: number): ConditionChange | null {
    const h = this.#host;
    if (h === null) return null;
    const roomAgain = h.code === 'EDQUOT'
      ? probe.backedBytes > h.at.backedBytes
      : probe.availableBytes >= needBytes && probe.availableBytes > h.at.availableBytes;
    if (!roomAgain) return null;
    return this.#change(() => { this.#host = null; });
  }

  #change(mutate: () => void): ConditionChange | null {
    const previous = this.condition;
    mutate();
    const condition = this.condition;
    if (condition === previous) return null;
    const reason = this.reason;
    return reason === undefined ? { condition, previous } : { condition, previous, reason };
  }
}
