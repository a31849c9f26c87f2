import { checkRange, cutTo, readLba64, requireClear } from './cdb.ts';
import type { CommandSpec } from './command.ts';
import { Opcode, ServiceActionIn16 } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { good } from './lu_io.ts';
import { invalidFieldInCdb } from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

const READ_CAPACITY_16_LENGTH = 32;
const LBPME = 0x80;
const LBPRZ = 0x40;

function readCapacity10(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  const cdb = task.cdb;
  // PMI is obsolete; an LBA without it is an error (SBC-3 5.16).
  if ((cdb[8] & 0x01) === 0 && cdb.readUInt32BE(2) !== 0) throw invalidFieldInCdb(2);
  const out = Buffer.alloc(8);
  const last = lu.device.blockCount - 1;
  out.writeUInt32BE(last > 0xfffffffe ? 0xffffffff : Math.max(last, 0), 0);
  out.writeUInt32BE(lu.device.blockSize, 4);
  return good(out);
}

/** READ CAPACITY(16): reports LBPME/LBPRZ for thin LUs and the 4 KiB physical block exponent. */
export function readCapacity16Data(lu: LogicalUnit): Buffer {
  const out = Buffer.alloc(READ_CAPACITY_16_LENGTH);
  out.writeBigUInt64BE(BigInt(Math.max(lu.device.blockCount - 1, 0)), 0);
  out.writeUInt32BE(lu.device.blockSize, 8);
  out[13] = lu.limits.lbppbExponent & 0x0f;
  if (lu.thin) out[14] = LBPME | LBPRZ;
  return out;
}

function readCapacity16(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  return good(cutTo(readCapacity16Data(lu), task.cdb.readUInt32BE(10)));
}

/**
 * SYNCHRONIZE CACHE (10/16). The range is checked but the whole device is flushed:
 * BlockDevice has no ranged flush, and a wider flush is always correct.
 */
async function synchronizeCache(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  const is16 = cdb[0] === Opcode.SYNCHRONIZE_CACHE_16;
  const lba = is16 ? readLba64(cdb, 2) : cdb.readUInt32BE(2);
  const count = is16 ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
  checkRange(lba, count, lu.device.blockCount);
  await lu.device.flush();
  return good();
}

/**
 * PRE-FETCH (10/16). There is no cache to load, so the command only checks its range
 * and returns GOOD, which SBC-3 allows when the blocks may not fit in the cache
 * (libiscsi expects GOOD, not CONDITION MET).
 */
function preFetch(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  const cdb = task.cdb;
  const is16 = cdb[0] === Opcode.PRE_FETCH_16;
  const lba = is16 ? readLba64(cdb, 2) : cdb.readUInt32BE(2);
  const count = is16 ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
  checkRange(lba, count, lu.device.blockCount);
  return good();
}

/**
 * START STOP UNIT. The medium is not removable and never spins down; a stop flushes
 * so that a host powering the unit down has its data on stable storage.
 */
async function startStopUnit(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  requireClear(cdb, 1, 0xfe);
  requireClear(cdb, 3, 0xf0);
  const start = (cdb[4] & 0x01) !== 0;
  const powerCondition = cdb[4] >> 4;
  if (!start && powerCondition === 0 && (cdb[4] & 0x04) === 0) await lu.device.flush();
  return good();
}

/** READ DEFECT DATA (10/12): a virtual medium has an empty defect list. */
function readDefectData(task: ScsiTask): ScsiResponse {
  const cdb = task.cdb;
  const is12 = cdb[0] === Opcode.READ_DEFECT_DATA_12;
  const format = cdb[is12 ? 1 : 2] & 0x07;
  const out = Buffer.alloc(is12 ? 8 : 4);
  out[1] = format;
  const allocation = is12 ? cdb.readUInt32BE(6) : cdb.readUInt16BE(7);
  return good(cutTo(out, allocation));
}

const LBA32 = [0xff, 0xff, 0xff, 0xff];
const LBA64 = [...LBA32, ...LBA32];

export const miscBlockCommands: CommandSpec[] = [
  {
    opcode: Opcode.READ_CAPACITY_10, name: 'READ CAPACITY(10)', reservation: 'allowed', handler: readCapacity10,
    usage: [0x25, 0x00, ...LBA32, 0x00, 0x00, 0x01, 0x00],
  },
  {
    opcode: Opcode.SERVICE_ACTION_IN_16, sa: ServiceActionIn16.READ_CAPACITY_16, name: 'READ CAPACITY(16)', reservation: 'allowed',
    handler: readCapacity16, usage: [0x9e, 0x10, ...LBA64, ...LBA32, 0x01, 0x00],
  },
  {
    opcode: Opcode.SYNCHRONIZE_CACHE_10, name: 'SYNCHRONIZE CACHE(10)', reservation: 'write', handler: synchronizeCache,
    usage: [0x35, 0x06, ...LBA32, 0x1f, 0xff, 0xff, 0x00],
  },
  {
    opcode: Opcode.SYNCHRONIZE_CACHE_16, name: 'SYNCHRONIZE CACHE(16)', reservation: 'write', handler: synchronizeCache,
    usage: [0x91, 0x06, ...LBA64, ...LBA32, 0x1f, 0x00],
  },
  {
    opcode: Opcode.PRE_FETCH_10, name: 'PRE-FETCH(10)', reservation: 'read', handler: preFetch,
    usage: [0x34, 0x02, ...LBA32, 0x1f, 0xff, 0xff, 0x00],
  },
  {
    opcode: Opcode.PRE_FETCH_16, name: 'PRE-FETCH(16)', reservation: 'read', handler: preFetch,
    usage: [0x90, 0x02, ...LBA64, ...LBA32, 0x1f, 0x00],
  },
  {
    opcode: Opcode.START_STOP_UNIT, name: 'START STOP UNIT', reservation: 'write', handler: startStopUnit,
    usage: [0x1b, 0x01, 0x00, 0x0f, 0xf7, 0x00],
  },
  {
    opcode: Opcode.READ_DEFECT_DATA_10, name: 'READ DEFECT DATA(10)', reservation: 'read', handler: readDefectData,
    usage: [0x37, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00],
  },
  {
    opcode: Opcode.READ_DEFECT_DATA_12, name: 'READ DEFECT DATA(12)', reservation: 'read', handler: readDefectData,
    usage: [0xb7, 0x1f, ...LBA32, ...LBA32, 0x00, 0x00],
  },
];
