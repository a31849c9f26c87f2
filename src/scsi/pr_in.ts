import { cutTo } from './cdb.ts';
import type { CommandSpec } from './command.ts';
import { Opcode } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { good } from './lu_io.ts';
import { encodeTransportId } from './pr_transport_id.ts';
import { isAllRegistrants } from './pr_state.ts';
import { invalidFieldInCdb } from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

const READ_KEYS = 0x00;
const READ_RESERVATION = 0x01;
const REPORT_CAPABILITIES = 0x02;
const READ_FULL_STATUS = 0x03;

/** Type mask bits of REPORT CAPABILITIES: all six types are implemented. */
const TYPE_MASK = 0xea01;
const CRH = 0x10;
const SIP_C = 0x08;
const ATP_C = 0x04;
const PTPL_C = 0x01;
const TMV = 0x80;
const PTPL_A = 0x01;

function readKeys(lu: LogicalUnit): Buffer {
  const regs = lu.pr.registrations;
  const out = Buffer.alloc(8 + 8 * regs.length);
  out.writeUInt32BE(lu.pr.generation, 0);
  out.writeUInt32BE(8 * regs.length, 4);
  regs.forEach((r, i) => out.writeBigUInt64BE(r.key, 8 + 8 * i));
  return out;
}

function readReservation(lu: LogicalUnit): Buffer {
  const res = lu.pr.reservation;
  const out = Buffer.alloc(res ? 24 : 8);
  out.writeUInt32BE(lu.pr.generation, 0);
  if (res) {
    out.writeUInt32BE(16, 4);
    // All-registrants reservations have no single holder: the key reads as zero.
    out.writeBigUInt64BE(isAllRegistrants(res.type) ? 0n : res.holder.key, 8);
    out[21] = res.type & 0x0f;
  }
  return out;
}

function reportCapabilities(lu: LogicalUnit): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16BE(8, 0);
  out[2] = CRH | SIP_C | ATP_C | (lu.config.prStore ? PTPL_C : 0);
  out[3] = TMV | (lu.pr.aptpl ? PTPL_A : 0);
  out.writeUInt16BE(TYPE_MASK, 4);
  return out;
}

function readFullStatus(lu: LogicalUnit): Buffer {
  const res = lu.pr.reservation;
  const parts = lu.pr.registrations.map((reg) => {
    const tid = encodeTransportId(reg);
    const d = Buffer.alloc(24 + tid.length);
    d.writeBigUInt64BE(reg.key, 0);
    const holder = res !== undefined && (isAllRegistrants(res.type) || res.holder === reg);
    d[12] = (reg.relTpId === undefined ? 0x02 : 0) | (holder ? 0x01 : 0);
    if (holder && res) d[13] = res.type & 0x0f;
    d.writeUInt16BE(reg.relTpId ?? 0, 18);
    d.writeUInt32BE(tid.length, 20);
    tid.copy(d, 24);
    return d;
  });
  const body = Buffer.concat(parts);
  const out = Buffer.alloc(8 + body.length);
  out.writeUInt32BE(lu.pr.generation, 0);
  out.writeUInt32BE(body.length, 4);
  body.copy(out, 8);
  return out;
}

/** PERSISTENT RESERVE IN; lengths in the data are never cut by the allocation length. */
function persistentReserveIn(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  const cdb = task.cdb;
  const allocation = cdb.readUInt16BE(7);
  let data: Buffer;
  switch (cdb[1] & 0x1f) {
    case READ_KEYS: data = readKeys(lu); break;
    case READ_RESERVATION: data = readReservation(lu); break;
    case REPORT_CAPABILITIES: data = reportCapabilities(lu); break;
    case READ_FULL_STATUS: data = readFullStatus(lu); break;
    default: throw invalidFieldInCdb(1, 4);
  }
  return good(cutTo(data, allocation));
}

const USAGE = [0x5e, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00];

export const prInCommands: CommandSpec[] = [READ_KEYS, READ_RESERVATION, REPORT_CAPABILITIES, READ_FULL_STATUS].map((sa) => ({
  opcode: Opcode.PERSISTENT_RESERVE_IN, sa, name: 'PERSISTENT RESERVE IN', reservation: 'allowed' as const,
  handler: persistentReserveIn, usage: [USAGE[0], sa, ...USAGE.slice(2)],
}));
