import { Asc } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { writeProtected } from './sense.ts';
import { ScsiStatus, type ScsiResponse } from './types.ts';

/**
 * Writes through the LU's gate: waits only when an exclusive range (COMPARE AND WRITE,
 * WRITE ATOMIC) overlaps, and registers as in flight so those can wait for it.
 * Without write cache enabled every write is forced to the medium (FUA).
 */
export function writeBlocks(lu: LogicalUnit, lba: number, data: Buffer, fua: boolean): Promise<void> {
  if (lu.locks.active) return lu.locks.waitClear(lba, data.length / lu.device.blockSize).then(() => writeNow(lu, lba, data, fua));
  return writeNow(lu, lba, data, fua);
}

/** The write itself, counted in `lu.writes`; one `then`, no async frame (it is the hot path). */
function writeNow(lu: LogicalUnit, lba: number, data: Buffer, fua: boolean): Promise<void> {
  const writes = lu.writes;
  const epoch = writes.enter();
  let p: Promise<void>;
  try {
    p = lu.device.write(lba, data, fua || !lu.mode.wce);
  } catch (err) {
    writes.leave(epoch);
    return Promise.reject(err as Error);
  }
  return p.then(
    () => { writes.leave(epoch); },
    (err: unknown) => { writes.leave(epoch); throw err; },
  );
}

/** Deallocates through the same gate as writes: an unmap changes what reads return. */
export async function unmapBlocks(lu: LogicalUnit, lba: number, count: number): Promise<void> {
  if (lu.locks.active) await lu.locks.waitClear(lba, count);
  const epoch = lu.writes.enter();
  try {
    await lu.device.unmap(lba, count);
  } finally {
    lu.writes.leave(epoch);
  }
}

/** DATA PROTECT for a write to a read-only or software write protected LU. */
export function requireWritable(lu: LogicalUnit): void {
  if (lu.config.readOnly) throw writeProtected(Asc.WRITE_PROTECTED);
  if (lu.mode.swp) throw writeProtected(Asc.SOFTWARE_WRITE_PROTECTED);
}

/** GOOD, with data-in when there is some. */
export function good(data?: Buffer): ScsiResponse {
  return data === undefined ? { status: ScsiStatus.GOOD } : { status: ScsiStatus.GOOD, data };
}

export function goodDataOut(dataOutLength: number): ScsiResponse {
  return { status: ScsiStatus.GOOD, dataOutLength };
}

/** The first byte offset where `a` and `b` differ, or -1. */
export function firstDifference(a: Buffer, b: Buffer, length: number): number {
  if (a.compare(b, 0, length, 0, length) === 0) return -1;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
