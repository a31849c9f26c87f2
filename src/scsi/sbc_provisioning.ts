import { checkRange, cutTo, readLba64, requireNoProtection } from './cdb.ts';
import type { CommandSpec } from './command.ts';
import { Opcode, ServiceActionIn16 } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { good, goodDataOut, requireWritable, unmapBlocks, writeBlocks } from './lu_io.ts';
import {
  invalidFieldInCdb, invalidFieldInParameterList, lbaOutOfRange, parameterListLengthError,
} from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

const ANCHOR = 0x10;
const UNMAP_BIT = 0x08;
const NDOB = 0x01;
const UNMAP_DESCRIPTOR = 16;
const LBA_STATUS_DESCRIPTOR = 16;
const PROVISIONING_MAPPED = 0;
const PROVISIONING_DEALLOCATED = 1;
const MAX_LBA_STATUS_DESCRIPTORS = 256;

/**
 * WRITE SAME (10/16). A NUMBER OF LOGICAL BLOCKS of zero means "to the end of the
 * medium" (WSNZ is 0), still bounded by MAXIMUM WRITE SAME LENGTH. With UNMAP the
 * blocks are deallocated whatever the pattern, and then read as zeros (LBPRZ), as
 * LIO does and libiscsi's WriteSame*.UnmapUntilEnd expects.
 */
async function writeSame(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  const is16 = cdb[0] === Opcode.WRITE_SAME_16;
  requireNoProtection(cdb);
  const flags = cdb[1];
  if (flags & ANCHOR) throw invalidFieldInCdb(1, 4);
  if ((flags & UNMAP_BIT) && !lu.thin) throw invalidFieldInCdb(1, 3);
  const ndob = is16 && (flags & NDOB) !== 0;
  const lba = is16 ? readLba64(cdb, 2) : cdb.readUInt32BE(2);
  let count = is16 ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
  const blockCount = lu.device.blockCount;
  checkRange(lba, 0, blockCount);
  if (count === 0) count = blockCount - lba;
  if (count > lu.limits.maxWriteSame) throw invalidFieldInCdb(is16 ? 10 : 7);
  checkRange(lba, count, blockCount);
  const bs = lu.device.blockSize;
  const needed = ndob ? 0 : bs;
  if (task.expectedLength !== needed || (task.dataOut?.length ?? 0) < needed) throw invalidFieldInCdb(is16 ? 10 : 7);
  requireWritable(lu);
  const pattern = ndob ? undefined : (task.dataOut as Buffer).subarray(0, bs);
  if (flags & UNMAP_BIT) {
    await unmapRange(lu, lba, count);
  } else {
    await fillRange(lu, lba, count, pattern);
  }
  return goodDataOut(needed);
}

async function unmapRange(lu: LogicalUnit, lba: number, count: number): Promise<void> {
  const step = lu.limits.maxUnmapLbaCount;
  for (let done = 0; done < count; done += step) await unmapBlocks(lu, lba + done, Math.min(step, count - done));
}

async function fillRange(lu: LogicalUnit, lba: number, count: number, pattern: Buffer | undefined): Promise<void> {
  const bs = lu.device.blockSize;
  const chunkBlocks = Math.min(count, lu.limits.maxTransfer);
  const chunk = Buffer.alloc(chunkBlocks * bs);
  if (pattern) for (let b = 0; b < chunkBlocks; b++) pattern.copy(chunk, b * bs);
  for (let done = 0; done < count; done += chunkBlocks) {
    const n = Math.min(chunkBlocks, count - done);
    await writeBlocks(lu, lba + done, n === chunkBlocks ? chunk : chunk.subarray(0, n * bs), false);
  }
}

/**
 * UNMAP: every descriptor is checked before any block is touched, so a bad list
 * changes nothing. A descriptor list cut mid-descriptor is processed up to the last
 * whole one, as SBC-3 5.28 allows.
 */
async function unmap(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  if (cdb[1] & 0x01) throw invalidFieldInCdb(1, 0);
  const listLength = cdb.readUInt16BE(7);
  if (listLength === 0) return goodDataOut(0);
  if (listLength < 8) throw parameterListLengthError();
  const data = task.dataOut;
  if (!data || data.length < listLength) throw parameterListLengthError();
  requireWritable(lu);
  const params = data.subarray(0, listLength);
  const descriptorBytes = Math.min(params.readUInt16BE(2), listLength - 8);
  const n = Math.floor(descriptorBytes / UNMAP_DESCRIPTOR);
  if (n > lu.limits.maxUnmapDescriptors) throw invalidFieldInParameterList(2);
  const blockCount = lu.device.blockCount;
  const ranges: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + i * UNMAP_DESCRIPTOR;
    const lba = readLba64(params, at);
    const count = params.readUInt32BE(at + 8);
    if (lba + count > blockCount) throw lbaOutOfRange();
    if (count > lu.limits.maxUnmapLbaCount) throw invalidFieldInParameterList(at + 8);
    if (count > 0) ranges.push([lba, count]);
  }
  for (const [lba, count] of ranges) await unmapBlocks(lu, lba, count);
  return goodDataOut(listLength);
}

/** GET LBA STATUS: runs of mapped and deallocated blocks from the starting LBA on. */
async function getLbaStatus(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  const lba = readLba64(cdb, 2);
  const allocation = cdb.readUInt32BE(10);
  const blockCount = lu.device.blockCount;
  if (lba >= blockCount) throw lbaOutOfRange();
  const room = Math.max(1, Math.min(MAX_LBA_STATUS_DESCRIPTORS, Math.floor((allocation - 8) / LBA_STATUS_DESCRIPTOR)));
  const descriptors: Buffer[] = [];
  let at = lba;
  while (at < blockCount && descriptors.length < room) {
    const span = Math.min(blockCount - at, 0xffffffff);
    const status = await lu.device.mapStatus(at, span);
    const d = Buffer.alloc(LBA_STATUS_DESCRIPTOR);
    d.writeBigUInt64BE(BigInt(at), 0);
    d.writeUInt32BE(status.count, 8);
    d[12] = status.mapped ? PROVISIONING_MAPPED : PROVISIONING_DEALLOCATED;
    descriptors.push(d);
    at += status.count;
    if (status.count === 0) break;
  }
  const out = Buffer.alloc(8 + descriptors.length * LBA_STATUS_DESCRIPTOR);
  out.writeUInt32BE(out.length - 4, 0);
  descriptors.forEach((d, i) => d.copy(out, 8 + i * LBA_STATUS_DESCRIPTOR));
  return good(cutTo(out, allocation));
}

const LBA32 = [0xff, 0xff, 0xff, 0xff];
const LBA64 = [...LBA32, ...LBA32];
const thinOnly = (lu: LogicalUnit): boolean => lu.thin;

export const provisioningCommands: CommandSpec[] = [
  {
    opcode: Opcode.WRITE_SAME_10, name: 'WRITE SAME(10)', reservation: 'write', handler: writeSame,
    usage: [0x41, 0x08, ...LBA32, 0x1f, 0xff, 0xff, 0x00],
  },
  {
    opcode: Opcode.WRITE_SAME_16, name: 'WRITE SAME(16)', reservation: 'write', handler: writeSame,
    usage: [0x93, 0x09, ...LBA64, ...LBA32, 0x1f, 0x00],
  },
  {
    opcode: Opcode.UNMAP, name: 'UNMAP', reservation: 'write', handler: unmap, supported: thinOnly,
    usage: [0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0xff, 0xff, 0x00],
  },
  {
    opcode: Opcode.SERVICE_ACTION_IN_16, sa: ServiceActionIn16.GET_LBA_STATUS, name: 'GET LBA STATUS', reservation: 'read',
    handler: getLbaStatus, usage: [0x9e, 0x12, ...LBA64, ...LBA32, 0x00, 0x00],
  },
];
