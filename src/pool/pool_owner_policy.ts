import type { HostIdentity, OwnerRecord } from './pool_owner_record.ts';
import { OwnerState } from './pool_owner_record.ts';

/**
 * The timing rules of pool ownership (docs/pool-format.md "Ownership"), as pure
 * arithmetic over the heartbeat interval. The holder beats every interval; its writes
 * stop LEASE_INTERVALS after the start of its last confirmed beat; an importer that
 * cannot ask the kernel whether the holder lives watches the record for
 * IMPORT_WAIT_INTERVALS before it takes over. The gap between the two (five intervals)
 * is the margin for a beat that is slow to land and for I/O already in flight.
 */
export const LEASE_INTERVALS = 5;
export const IMPORT_WAIT_INTERVALS = 10;
/** After writing its claim an importer waits this long and reads again: the last claim wins. */
export const CLAIM_SETTLE_INTERVALS = 2;
export const DEFAULT_HEARTBEAT_MS = 1000;
export const MIN_HEARTBEAT_MS = 10;
export const MAX_HEARTBEAT_MS = 60_000;

/**
 * What an importer makes of the record it found:
 * - free: nobody claims the pool (no record, released, or a record of another pool);
 * - dead: the holder ran where we can ask the kernel, and it is gone;
 * - alive: the holder ran where we can ask, and it still runs (stopped counts as running);
 * - unknown: another host or pid namespace; only its heartbeat can tell.
 */
export type HolderVerdict = 'free' | 'dead' | 'alive' | 'unknown';

/** Whether `pid` is the process that claimed (same start time), in our pid namespace. */
export type LivenessProbe = (holder: Pick<OwnerRecord, 'pid' | 'pidStart' | 'instance'>) => boolean;

export function judgeHolder(rec: OwnerRecord | null, poolUuid: string, self: HostIdentity, alive: LivenessProbe): HolderVerdict {
  if (rec === null || rec.poolUuid !== poolUuid || rec.state === OwnerState.released) return 'free';
  if (rec.bootId !== self.bootId || rec.pidNs !== self.pidNs) return 'unknown';
  return alive(rec) ? 'alive' : 'dead';
}

/** Whether the holder showed a sign of life between two reads (or let go). */
export function holderMoved(before: OwnerRecord, after: OwnerRecord | null): boolean {
  return after === null || after.instance !== before.instance || after.seq !== before.seq || after.state !== before.state;
}

/** How long an importer watches an unknown holder's record before taking over. */
export function importWaitMs(holderIntervalMs: number, ownIntervalMs: number): number {
  return IMPORT_WAIT_INTERVALS * Math.max(clampInterval(holderIntervalMs), ownIntervalMs);
}

export function claimSettleMs(previousIntervalMs: number | undefined, ownIntervalMs: number): number {
  return CLAIM_SETTLE_INTERVALS * Math.max(previousIntervalMs === undefined ? 0 : clampInterval(previousIntervalMs), ownIntervalMs);
}

export function leaseMs(ownIntervalMs: number): number {
  return LEASE_INTERVALS * ownIntervalMs;
}

/** A recorded interval from another engine, held to the range this code accepts. */
function clampInterval(ms: number): number {
  return Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, Number.isFinite(ms) ? ms : DEFAULT_HEARTBEAT_MS));
}
