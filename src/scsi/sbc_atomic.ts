import { checkRange, readLba64, requireNoProtection } from './cdb.ts';
import type { CommandSpec } from './command.ts';
import { Opcode } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { firstDifference, goodDataOut, requireWritable } from './lu_io.ts';
import { receivedBlocks } from './sbc_rw.ts';
import { invalidFieldInCdb, miscompare } from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

const FUA = 0x08;

/**
 * Runs `fn` with `[lba, lba + count)` held exclusively: overlapping writes that start
 * later wait, and every write already in flight finishes first.
 */
async function exclusively<T>(lu: LogicalUnit, lba: number, count: number, fn: () => Promise<T>): Promise<T> {
  const release = await lu.locks.acquire(lba, count);
  try {
    await lu.writes.drain();
    return await fn();
  } finally {
    release();
  }
}

/**
 * COMPARE AND WRITE: the data-out holds NUMBER OF LOGICAL BLOCKS of verify data and
 * then as many of write data. Any other data-out length is an error (LIO and
 * libiscsi's CompareAndWrite.InvalidDataOutSize agree); a miscompare reports the
 * offset of the first differing byte and writes nothing.
 */
async function compareAndWrite(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  requireNoProtection(cdb);
  const lba = readLba64(cdb, 2);
  const count = cdb[13];
  const bs = lu.device.blockSize;
  const needed = 2 * count * bs;
  if (count > lu.limits.maxCompareAndWrite) throw invalidFieldInCdb(13);
  if (task.expectedLength !== needed || (task.dataOut?.length ?? 0) !== needed) throw invalidFieldInCdb(13);
  checkRange(lba, count, lu.device.blockCount);
  if (count === 0) return goodDataOut(0);
  requireWritable(lu);
  const data = task.dataOut as Buffer;
  const half = count * bs;
  await exclusively(lu, lba, count, async () => {
    const current = await lu.device.read(lba, count);
    const at = firstDifference(data, current, half);
    if (at >= 0) throw miscompare(at);
    await lu.device.write(lba, data.subarray(half), (cdb[1] & FUA) !== 0 || !lu.mode.wce);
  });
  return goodDataOut(needed);
}

/** ORWRITE(16): ORs the data-out into the medium, atomically against other writes. */
async function orWrite(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  requireNoProtection(cdb);
  const lba = readLba64(cdb, 2);
  const count = cdb.readUInt32BE(10);
  if (count > lu.limits.maxTransfer) throw invalidFieldInCdb(10);
  checkRange(lba, count, lu.device.blockCount);
  const bs = lu.device.blockSize;
  const needed = count * bs;
  if (count === 0) return goodDataOut(0);
  requireWritable(lu);
  const data = receivedBlocks(task.dataOut, needed, bs);
  if (!data) return goodDataOut(needed);
  const blocks = data.length / bs;
  await exclusively(lu, lba, blocks, async () => {
    const current = await lu.device.read(lba, blocks);
    for (let i = 0; i < current.length; i++) current[i] |= data[i];
    await lu.device.write(lba, current, (cdb[1] & FUA) !== 0 || !lu.mode.wce);
  });
  return goodDataOut(needed);
}

/**
 * WRITE ATOMIC(16): all or nothing with respect to other commands. Alignment and
 * granularity are one block (reported as 0), the length is capped by the Block Limits
 * page's MAXIMUM ATOMIC TRANSFER LENGTH.
 */
async function writeAtomic(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  requireNoProtection(cdb);
  const lba = readLba64(cdb, 2);
  const count = cdb.readUInt16BE(12);
  if (count > lu.limits.maxAtomicTransfer) throw invalidFieldInCdb(12);
  checkRange(lba, count, lu.device.blockCount);
  const bs = lu.device.blockSize;
  const needed = count * bs;
  if (count === 0) return goodDataOut(0);
  requireWritable(lu);
  const data = receivedBlocks(task.dataOut, needed, bs);
  // An atomic write is never split: a short data-out writes nothing.
  if (!data || data.length !== needed) return goodDataOut(needed);
  await exclusively(lu, lba, count, () => lu.device.write(lba, data, (cdb[1] & FUA) !== 0 || !lu.mode.wce));
  return goodDataOut(needed);
}

const LBA64 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

export const atomicCommands: CommandSpec[] = [
  {
    opcode: Opcode.COMPARE_AND_WRITE, name: 'COMPARE AND WRITE', reservation: 'write', handler: compareAndWrite,
    usage: [0x89, 0x18, ...LBA64, 0x00, 0x00, 0x00, 0xff, 0x1f, 0x00],
  },
  {
    opcode: Opcode.ORWRITE_16, name: 'ORWRITE(16)', reservation: 'write', handler: orWrite,
    usage: [0x8b, 0x18, ...LBA64, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  },
  {
    opcode: Opcode.WRITE_ATOMIC_16, name: 'WRITE ATOMIC(16)', reservation: 'write', handler: writeAtomic,
    usage: [0x9c, 0x18, ...LBA64, 0x00, 0x00, 0xff, 0xff, 0x1f, 0x00],
  },
];
