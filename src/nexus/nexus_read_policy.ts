import { ChildState, type NexusChild } from './nexus_child.ts';
import { NexusReadPolicy, type NexusReadPolicyName } from './nexus_options.ts';

/** One read in this many goes to the least busy child regardless of latency (a power of two). */
export const READ_PROBE_INTERVAL = 32;
/**
 * Under prefer-local, while the local child is slow enough to be saturated (see
 * LOCAL_SPILL_MIN_MS), one read in this many (a power of two) is balanced instead, so
 * the estimate of what a remote read costs stays current while the local child takes the rest.
 */
export const LOCAL_READ_PROBE_INTERVAL = 256;
/** Latencies below this count as equal, so children of similar speed share reads evenly. */
export const READ_COST_FLOOR_MS = 0.05;
/** Reads in flight at the local child before it can count as saturated. */
export const LOCAL_SPILL_MIN_DEPTH = 4;
/**
 * The local child is saturated when its recent read latency is this many times the
 * expected wait at the best remote: well clear of noise, since a remote read also costs
 * CPU the local one does not.
 */
export const LOCAL_SPILL_RATIO = 3;
/**
 * Below this recent latency the local child is never saturated, and no read is sent
 * away to probe a remote. At a fixed queue depth a CPU-bound node shows latency that
 * grows with depth (queue depth / IOPS: 0.3 ms at QD32 and 100k IOPS) even though the
 * local device is idle; moving reads to a remote then only adds the CPU of two network
 * stacks and a replica server to the same node. A local device this slow at depth is
 * genuinely busy (a disk, a throttled volume), and a remote may help.
 */
export const LOCAL_SPILL_MIN_MS = 2;

/**
 * Chooses the in-sync child that serves the next read. Only online children are ever
 * chosen (rebuilding and stale ones lack data, faulted ones are gone). Pure bookkeeping
 * over the children's counters: O(children) per read, with at most five children.
 */
export class NexusReadChooser {
  private readonly policy: NexusReadPolicyName;
  private rr = 0;
  private reads = 0;

  constructor(policy: NexusReadPolicyName) {
    this.policy = policy;
  }

  pick(members: readonly NexusChild[]): NexusChild | undefined {
    const n = this.reads = (this.reads + 1) >>> 0;
    if (this.policy === NexusReadPolicy.PREFER_LOCAL) {
      const local = localOnline(members);
      if (local) {
        if (local.readMs < LOCAL_SPILL_MIN_MS) return local;
        if ((n & (LOCAL_READ_PROBE_INTERVAL - 1)) === 0) return this.balanced(members, true, local);
        if (!this.saturated(local, members)) return local;
      }
    }
    return this.balanced(members, (n & (READ_PROBE_INTERVAL - 1)) === 0, undefined);
  }

  /** Reads queue at the local child and a remote would answer several times sooner. */
  private saturated(local: NexusChild, members: readonly NexusChild[]): boolean {
    if (local.outstanding < LOCAL_SPILL_MIN_DEPTH) return false;
    const localMs = Math.max(local.readMs, READ_COST_FLOOR_MS);
    for (const c of members) {
      if (c === local || c.state !== ChildState.ONLINE) continue;
      // A remote never read from has no estimate yet: one read at a time measures it.
      if (c.readMs === 0) {
        if (c.outstanding === 0) return true;
        continue;
      }
      if (localMs > LOCAL_SPILL_RATIO * cost(c)) return true;
    }
    return false;
  }

  /**
   * The online child with the least expected wait (reads in flight there, plus this one,
   * times its recent latency). A probe ignores latency and takes the least busy child, so
   * a child whose estimate is stale (one slow moment) is measured again, not starved;
   * `skip` leaves one child out of a probe (the local one, which needs no measuring).
   */
  private balanced(members: readonly NexusChild[], probe: boolean, skip: NexusChild | undefined): NexusChild | undefined {
    const len = members.length;
    if (len === 0) return undefined;
    const start = (this.rr = (this.rr + 1) % len);
    let best: NexusChild | undefined;
    let bestCost = Infinity;
    for (let k = 0; k < len; k++) {
      const c = members[(start + k) % len];
      if (c.state !== ChildState.ONLINE || c === skip) continue;
      const v = probe ? c.outstanding : cost(c);
      if (v < bestCost) { best = c; bestCost = v; }
    }
    return best ?? (skip?.state === ChildState.ONLINE ? skip : undefined);
  }
}

function cost(c: NexusChild): number {
  return (c.outstanding + 1) * Math.max(c.readMs, READ_COST_FLOOR_MS);
}

function localOnline(members: readonly NexusChild[]): NexusChild | undefined {
  for (const c of members) if (c.local && c.state === ChildState.ONLINE) return c;
  return undefined;
}
