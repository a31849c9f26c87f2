import { cdbLength, checkRange, decodeBlockRange, requireNoProtection } from './cdb.ts';
import type { CommandSpec } from './command.ts';
import { Opcode } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { firstDifference, good, goodDataOut, requireWritable, writeBlocks } from './lu_io.ts';
import { invalidFieldInCdb, miscompare } from './sense.ts';
import { ScsiStatus, type ScsiResponse, type ScsiTask } from './types.ts';

const FUA = 0x08;
/** Byte of the TRANSFER LENGTH field by CDB length, for the field pointer. */
const LENGTH_BYTE: Record<number, number> = { 6: 4, 10: 7, 12: 6, 16: 10 };

function lengthByte(cdb: Buffer): number { return LENGTH_BYTE[cdbLength(cdb[0])] ?? 0; }

/** Read data as a GOOD response; a named function so READ makes no closure per command. */
function goodWith(data: Buffer): ScsiResponse {
  return { status: ScsiStatus.GOOD, data };
}

/**
 * READ (6/10/12/16): the hot path — decode, range check, one device call. Not async:
 * a bad CDB throws before any promise exists (the caller turns it into sense data).
 */
function read(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> | ScsiResponse {
  const cdb = task.cdb;
  if (cdb[0] !== Opcode.READ_6) requireNoProtection(cdb);
  const { lba, count } = decodeBlockRange(cdb);
  if (count > lu.limits.maxTransfer) throw invalidFieldInCdb(lengthByte(cdb));
  checkRange(lba, count, lu.device.blockCount);
  if (count === 0) return good();
  const device = lu.device;
  const into = task.dataInBuffer;
  const len = count * device.blockSize;
  if (into !== undefined && into.length >= len && device.readInto !== undefined) {
    const dest = into.length === len ? into : into.subarray(0, len);
    return device.readInto(lba, count, dest).then(() => goodWith(dest));
  }
  return device.read(lba, count).then(goodWith);
}

/**
 * WRITE (6/10/12/16). When the initiator sent less data than the CDB asks for (an
 * iSCSI overflow), only the whole blocks received are written and the command still
 * succeeds; the transport reports the residual (libiscsi's Write*Residuals, LIO).
 */
function write(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> | ScsiResponse {
  const cdb = task.cdb;
  const fua = cdb[0] !== Opcode.WRITE_6 && (cdb[1] & FUA) !== 0;
  if (cdb[0] !== Opcode.WRITE_6) requireNoProtection(cdb);
  const { lba, count } = decodeBlockRange(cdb);
  if (count > lu.limits.maxTransfer) throw invalidFieldInCdb(lengthByte(cdb));
  checkRange(lba, count, lu.device.blockCount);
  const bs = lu.device.blockSize;
  const needed = count * bs;
  if (count === 0) return goodDataOut(0);
  requireWritable(lu);
  const data = receivedBlocks(task.dataOut, needed, bs);
  const done = goodDataOut(needed);
  if (!data) return done;
  return writeBlocks(lu, lba, data, fua).then(() => done);
}

/** The whole blocks of data-out, at most `needed` bytes, without copying. */
export function receivedBlocks(dataOut: Buffer | undefined, needed: number, blockSize: number): Buffer | undefined {
  if (!dataOut) return undefined;
  const have = Math.min(dataOut.length, needed);
  const whole = have - (have % blockSize);
  if (whole === 0) return undefined;
  return whole === dataOut.length ? dataOut : dataOut.subarray(0, whole);
}

/**
 * VERIFY (10/12/16). BYTCHK 00b checks the range only (the backing store reports its
 * own medium errors on read); 01b compares the data-out with the medium; 11b compares
 * one block of data-out with every block. A miscompare reports the byte offset.
 */
async function verify(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  requireNoProtection(cdb);
  const bytchk = (cdb[1] >> 1) & 0x3;
  if (bytchk === 2) throw invalidFieldInCdb(1, 2);
  const { lba, count } = decodeBlockRange(cdb);
  checkRange(lba, count, lu.device.blockCount);
  if (bytchk === 0 || count === 0) return good();
  if (count > lu.limits.maxTransfer) throw invalidFieldInCdb(lengthByte(cdb));
  const bs = lu.device.blockSize;
  const needed = bytchk === 1 ? count * bs : bs;
  const data = task.dataOut;
  if (!data || data.length < needed) return goodDataOut(needed);
  const medium = await lu.device.read(lba, count);
  if (bytchk === 1) {
    const at = firstDifference(data, medium, needed);
    if (at >= 0) throw miscompare(at);
  } else {
    for (let b = 0; b < count; b++) {
      const at = firstDifference(data, medium.subarray(b * bs), bs);
      if (at >= 0) throw miscompare(b * bs + at);
    }
  }
  return goodDataOut(needed);
}

/** WRITE AND VERIFY (10/12/16): the write goes to the medium (FUA), so it verifies as written. */
async function writeAndVerify(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  requireNoProtection(cdb);
  const { lba, count } = decodeBlockRange(cdb);
  if (count > lu.limits.maxTransfer) throw invalidFieldInCdb(lengthByte(cdb));
  checkRange(lba, count, lu.device.blockCount);
  const bs = lu.device.blockSize;
  const needed = count * bs;
  if (count === 0) return goodDataOut(0);
  requireWritable(lu);
  const data = receivedBlocks(task.dataOut, needed, bs);
  if (data) await writeBlocks(lu, lba, data, true);
  return goodDataOut(needed);
}

const LBA32 = [0xff, 0xff, 0xff, 0xff];
const LBA64 = [...LBA32, ...LBA32];

export const readWriteCommands: CommandSpec[] = [
  { opcode: Opcode.READ_6, name: 'READ(6)', usage: [0x08, 0x1f, 0xff, 0xff, 0xff, 0x00], reservation: 'read', handler: read },
  { opcode: Opcode.READ_10, name: 'READ(10)', usage: [0x28, 0x18, ...LBA32, 0x1f, 0xff, 0xff, 0x00], reservation: 'read', handler: read },
  { opcode: Opcode.READ_12, name: 'READ(12)', usage: [0xa8, 0x18, ...LBA32, ...LBA32, 0x1f, 0x00], reservation: 'read', handler: read },
  { opcode: Opcode.READ_16, name: 'READ(16)', usage: [0x88, 0x18, ...LBA64, ...LBA32, 0x1f, 0x00], reservation: 'read', handler: read },
  { opcode: Opcode.WRITE_6, name: 'WRITE(6)', usage: [0x0a, 0x1f, 0xff, 0xff, 0xff, 0x00], reservation: 'write', handler: write },
  { opcode: Opcode.WRITE_10, name: 'WRITE(10)', usage: [0x2a, 0x18, ...LBA32, 0x1f, 0xff, 0xff, 0x00], reservation: 'write', handler: write },
  { opcode: Opcode.WRITE_12, name: 'WRITE(12)', usage: [0xaa, 0x18, ...LBA32, ...LBA32, 0x1f, 0x00], reservation: 'write', handler: write },
  { opcode: Opcode.WRITE_16, name: 'WRITE(16)', usage: [0x8a, 0x18, ...LBA64, ...LBA32, 0x1f, 0x00], reservation: 'write', handler: write },
  { opcode: Opcode.VERIFY_10, name: 'VERIFY(10)', usage: [0x2f, 0x16, ...LBA32, 0x1f, 0xff, 0xff, 0x00], reservation: 'read', handler: verify },
  { opcode: Opcode.VERIFY_12, name: 'VERIFY(12)', usage: [0xaf, 0x16, ...LBA32, ...LBA32, 0x1f, 0x00], reservation: 'read', handler: verify },
  { opcode: Opcode.VERIFY_16, name: 'VERIFY(16)', usage: [0x8f, 0x16, ...LBA64, ...LBA32, 0x1f, 0x00], reservation: 'read', handler: verify },
  { opcode: Opcode.WRITE_AND_VERIFY_10, name: 'WRITE AND VERIFY(10)', usage: [0x2e, 0x12, ...LBA32, 0x1f, 0xff, 0xff, 0x00], reservation: 'write', handler: writeAndVerify },
  { opcode: Opcode.WRITE_AND_VERIFY_12, name: 'WRITE AND VERIFY(12)', usage: [0xae, 0x12, ...LBA32, ...LBA32, 0x1f, 0x00], reservation: 'write', handler: writeAndVerify },
  { opcode: Opcode.WRITE_AND_VERIFY_16, name: 'WRITE AND VERIFY(16)', usage: [0x8e, 0x12, ...LBA64, ...LBA32, 0x1f, 0x00], reservation: 'write', handler: writeAndVerify },
];
