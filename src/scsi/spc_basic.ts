import { cutTo } from './cdb.ts';
import { SERVICE_ACTION_OPCODES, type CommandSpec, type TargetServices } from './command.ts';
import { Asc, MaintenanceIn, Opcode, SenseKey } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { good } from './lu_io.ts';
import { buildSense, invalidFieldInCdb } from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

const RCTD = 0x80;
const SERVACTV = 0x01;
const CTDP = 0x02;
const TIMEOUTS_DESCRIPTOR_LENGTH = 12;
const SUPPORT_NOT_SUPPORTED = 0x1;
const SUPPORT_STANDARD = 0x3;
const DEFAULT_TIMEOUTS = { nominal: 0, recommended: 30 };

function testUnitReady(): ScsiResponse { return good(); }

/**
 * REQUEST SENSE returns (and clears) the oldest unit attention of the nexus, the
 * sanitize progress while one runs, or NO SENSE. Only fixed format is supported.
 */
function requestSense(task: ScsiTask, lu: LogicalUnit | undefined): ScsiResponse {
  const allocation = task.cdb[4];
  let sense: Buffer;
  if (!lu) {
    sense = buildSense(SenseKey.ILLEGAL_REQUEST, Asc.LOGICAL_UNIT_NOT_SUPPORTED);
  } else {
    const ua = lu.uas.take(task.nexus.id);
    if (ua !== undefined) sense = buildSense(SenseKey.UNIT_ATTENTION, ua);
    else if (lu.sanitize) sense = buildSense(SenseKey.NOT_READY, Asc.LU_NOT_READY_SANITIZE_IN_PROGRESS, { progress: sanitizeProgress(lu) });
    else sense = buildSense(SenseKey.NO_SENSE, Asc.NO_ADDITIONAL_SENSE);
  }
  return good(cutTo(sense, allocation));
}

export function sanitizeProgress(lu: LogicalUnit): number {
  const s = lu.sanitize;
  if (!s || s.total === 0) return 0;
  return Math.min(0xffff, Math.floor((s.done / s.total) * 0x10000));
}

/** LUN field encoding (SAM-5 4.7): peripheral addressing below 256, flat space above. */
export function encodeLun(lun: number): Buffer {
  const out = Buffer.alloc(8);
  if (lun < 256) out[1] = lun;
  else { out[0] = 0x40 | ((lun >> 8) & 0x3f); out[1] = lun & 0xff; }
  return out;
}

function reportLuns(task: ScsiTask, _lu: LogicalUnit | undefined, target: TargetServices): ScsiResponse {
  const cdb = task.cdb;
  const select = cdb[2];
  if (select > 0x02 && !(select >= 0x10 && select <= 0x12)) throw invalidFieldInCdb(2);
  const allocation = cdb.readUInt32BE(6);
  if (allocation < 16) throw invalidFieldInCdb(6);
  // Well-known LUNs are not implemented, so SELECT REPORT 01h lists nothing.
  const luns = select === 0x01 ? [] : target.luns();
  const out = Buffer.alloc(8 + 8 * luns.length);
  out.writeUInt32BE(8 * luns.length, 0);
  luns.forEach((lun, i) => encodeLun(lun).copy(out, 8 + 8 * i));
  return good(cutTo(out, allocation));
}

function timeoutsDescriptor(spec: CommandSpec): Buffer {
  const t = spec.timeouts ?? DEFAULT_TIMEOUTS;
  const d = Buffer.alloc(TIMEOUTS_DESCRIPTOR_LENGTH);
  d.writeUInt16BE(0x0a, 0);
  d.writeUInt32BE(t.nominal, 4);
  d.writeUInt32BE(t.recommended, 8);
  return d;
}

function allCommands(specs: CommandSpec[], rctd: boolean): Buffer {
  const size = 8 + (rctd ? TIMEOUTS_DESCRIPTOR_LENGTH : 0);
  const out = Buffer.alloc(4 + specs.length * size);
  out.writeUInt32BE(out.length - 4, 0);
  specs.forEach((spec, i) => {
    const at = 4 + i * size;
    out[at] = spec.opcode;
    if (spec.sa !== undefined) { out.writeUInt16BE(spec.sa, at + 2); out[at + 5] |= SERVACTV; }
    if (rctd) out[at + 5] |= CTDP;
    out.writeUInt16BE(spec.usage.length, at + 6);
    if (rctd) timeoutsDescriptor(spec).copy(out, at + 8);
  });
  return out;
}

function oneCommand(spec: CommandSpec | undefined, rctd: boolean): Buffer {
  if (!spec) {
    const out = Buffer.alloc(4);
    out[1] = SUPPORT_NOT_SUPPORTED;
    return out;
  }
  const n = spec.usage.length;
  const out = Buffer.alloc(4 + n + (rctd ? TIMEOUTS_DESCRIPTOR_LENGTH : 0));
  out[1] = SUPPORT_STANDARD | (rctd ? 0x80 : 0);
  out.writeUInt16BE(n, 2);
  Buffer.from(spec.usage).copy(out, 4);
  if (rctd) timeoutsDescriptor(spec).copy(out, 4 + n);
  return out;
}

/**
 * REPORT SUPPORTED OPERATION CODES, listing what this LU implements (UNMAP only on
 * thin LUs). Asking for one command by opcode alone when it has service actions, or
 * by service action when it has none, is an invalid field (SPC-4 6.35).
 */
function reportSupportedOperationCodes(task: ScsiTask, lu: LogicalUnit, target: TargetServices): ScsiResponse {
  const cdb = task.cdb;
  const rctd = (cdb[2] & RCTD) !== 0;
  const options = cdb[2] & 0x07;
  const opcode = cdb[3];
  const sa = cdb.readUInt16BE(4);
  const allocation = cdb.readUInt32BE(6);
  const specs = target.commands().filter((s) => !s.supported || s.supported(lu));
  const multiplexed = SERVICE_ACTION_OPCODES.has(opcode) && specs.some((s) => s.opcode === opcode && s.sa !== undefined);
  let data: Buffer;
  switch (options) {
    case 0:
      data = allCommands(specs, rctd);
      break;
    case 1:
      if (multiplexed) throw invalidFieldInCdb(3);
      data = oneCommand(specs.find((s) => s.opcode === opcode), rctd);
      break;
    case 2:
      if (!multiplexed) throw invalidFieldInCdb(4);
      data = oneCommand(specs.find((s) => s.opcode === opcode && s.sa === sa), rctd);
      break;
    case 3:
      data = oneCommand(specs.find((s) => s.opcode === opcode && (!multiplexed || s.sa === sa)), rctd);
      break;
    default:
      throw invalidFieldInCdb(2, 2);
  }
  return good(cutTo(data, allocation));
}

export const basicCommands: CommandSpec[] = [
  {
    opcode: Opcode.TEST_UNIT_READY, name: 'TEST UNIT READY', reservation: 'allowed', handler: testUnitReady,
    usage: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
  },
  {
    opcode: Opcode.REQUEST_SENSE, name: 'REQUEST SENSE', reservation: 'allowed', reportsUnitAttention: false,
    allowedDuringSanitize: true, anyLun: true, handler: requestSense, usage: [0x03, 0x00, 0x00, 0x00, 0xff, 0x00],
  },
  {
    opcode: Opcode.REPORT_LUNS, name: 'REPORT LUNS', reservation: 'allowed', reportsUnitAttention: false,
    allowedDuringSanitize: true, anyLun: true, handler: reportLuns,
    usage: [0xa0, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  },
  {
    opcode: Opcode.MAINTENANCE_IN, sa: MaintenanceIn.REPORT_SUPPORTED_OPERATION_CODES, name: 'REPORT SUPPORTED OPERATION CODES',
    reservation: 'allowed', handler: reportSupportedOperationCodes,
    usage: [0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
  },
];
