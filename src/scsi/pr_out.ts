import type { CommandSpec } from './command.ts';
import { Asc, Opcode, SenseKey } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { goodDataOut } from './lu_io.ts';
import { decodeTransportId } from './pr_transport_id.ts';
import {
  isAllRegistrants, isValidPrType, matches, portOf, type PrPort, type PrRegistration,
} from './pr_state.ts';
import {
  CheckConditionError, invalidFieldInCdb, invalidFieldInParameterList, parameterListLengthError, ReservationConflictError,
} from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

const SA = { REGISTER: 0, RESERVE: 1, RELEASE: 2, CLEAR: 3, PREEMPT: 4, PREEMPT_AND_ABORT: 5, REGISTER_AND_IGNORE: 6, REGISTER_AND_MOVE: 7 } as const;
const BASIC_PARAMETER_LIST = 24;
const SPEC_I_PT = 0x08;
const ALL_TG_PT = 0x04;
const APTPL = 0x01;
const INVALID_RELEASE = 0x2604;

interface Params { key: bigint; saKey: bigint; specIPt: boolean; allTgPt: boolean; aptpl: boolean; raw: Buffer }

/** Queues `asc` for every nexus (but the sender) whose port one of `regs` covered. */
function notify(lu: LogicalUnit, regs: PrRegistration[], asc: number, senderId: string): void {
  for (const [id, nexus] of lu.nexuses) {
    if (id === senderId) continue;
    const port = portOf(nexus);
    if (regs.some((r) => matches(r, port))) lu.uas.establish(id, asc);
  }
}

function conflict(): never { throw new ReservationConflictError(); }

function registerAction(lu: LogicalUnit, task: ScsiTask, port: PrPort, p: Params, ignoreKey: boolean): void {
  const pr = lu.pr;
  const existing = pr.find(port);
  if (ignoreKey && p.specIPt) throw invalidFieldInParameterList(20, 3);
  if (!existing) {
    if (!ignoreKey && p.key !== 0n) conflict();
    if (p.saKey === 0n) return;
    const extra = p.specIPt ? specifiedPorts(p.raw, port) : [];
    const relTpId = p.allTgPt ? undefined : port.relTpId;
    for (const other of extra) {
      if (pr.find({ initiatorName: other.initiatorName, isid: other.isid ?? '', relTpId: port.relTpId })) conflict();
    }
    pr.registrations.push({ key: p.saKey, initiatorName: port.initiatorName, isid: port.isid, relTpId });
    for (const other of extra) pr.registrations.push({ key: p.saKey, initiatorName: other.initiatorName, isid: other.isid, relTpId });
  } else {
    if (!ignoreKey && p.key !== existing.key) conflict();
    if (p.specIPt) throw invalidFieldInParameterList(20, 3);
    if (p.saKey === 0n) {
      const wasType = pr.reservation?.type;
      const { released } = pr.unregister(existing);
      // Losing a registrants-only reservation tells the remaining registrants.
      if (released && wasType !== undefined && (wasType === 5 || wasType === 6)) {
        notify(lu, pr.registrations, Asc.RESERVATIONS_RELEASED, task.nexus.id);
      }
    } else {
      existing.key = p.saKey;
    }
  }
  pr.aptpl = p.aptpl;
  pr.generation = (pr.generation + 1) >>> 0;
}

/** The additional initiator ports of a SPEC_I_PT registration. */
function specifiedPorts(raw: Buffer, self: PrPort): { initiatorName: string; isid?: string }[] {
  if (raw.length < 28) throw parameterListLengthError();
  const total = raw.readUInt32BE(24);
  if (28 + total > raw.length) throw parameterListLengthError();
  const out: { initiatorName: string; isid?: string }[] = [];
  let at = 28;
  while (at < 28 + total) {
    const tid = decodeTransportId(raw, at);
    if (!tid) throw invalidFieldInParameterList(at);
    if (!(tid.port.initiatorName === self.initiatorName && tid.port.isid === self.isid)) out.push(tid.port);
    at += tid.length;
  }
  return out;
}

function reserveAction(lu: LogicalUnit, port: PrPort, p: Params, type: number): void {
  const reg = lu.pr.find(port);
  if (!reg || reg.key !== p.key) conflict();
  const res = lu.pr.reservation;
  if (res) {
    const holds = isAllRegistrants(res.type) || res.holder === reg;
    if (!holds || res.type !== type) conflict();
    return;
  }
  lu.pr.reservation = { holder: reg, type };
}

function releaseAction(lu: LogicalUnit, task: ScsiTask, port: PrPort, p: Params, type: number): void {
  const reg = lu.pr.find(port);
  if (!reg || reg.key !== p.key) conflict();
  const res = lu.pr.reservation;
  if (!res) return;
  if (!isAllRegistrants(res.type) && res.holder !== reg) return;
  if (res.type !== type) throw new CheckConditionError(SenseKey.ILLEGAL_REQUEST, INVALID_RELEASE);
  lu.pr.reservation = undefined;
  if (type !== 1 && type !== 3) notify(lu, lu.pr.registrations, Asc.RESERVATIONS_RELEASED, task.nexus.id);
}

function clearAction(lu: LogicalUnit, task: ScsiTask, port: PrPort, p: Params): void {
  const reg = lu.pr.find(port);
  if (!reg || reg.key !== p.key) conflict();
  const removed = lu.pr.registrations;
  lu.pr.clear();
  notify(lu, removed, Asc.REGISTRATIONS_PREEMPTED, task.nexus.id);
  lu.pr.generation = (lu.pr.generation + 1) >>> 0;
}

/**
 * PREEMPT (and PREEMPT AND ABORT, which here aborts nothing beyond what the preempt
 * itself does): removes the registrations holding SERVICE ACTION RESERVATION KEY and,
 * when that key held the reservation, takes it over with the CDB's type.
 */
function preemptAction(lu: LogicalUnit, task: ScsiTask, port: PrPort, p: Params, type: number): void {
  const pr = lu.pr;
  const reg = pr.find(port);
  if (!reg || reg.key !== p.key) conflict();
  const res = pr.reservation;
  const others = (r: PrRegistration): boolean => r !== reg;
  const typeBefore = res?.type;
  let removed: PrRegistration[];
  if (res && isAllRegistrants(res.type) && p.saKey === 0n) {
    removed = pr.registrations.filter(others);
    pr.reservation = { holder: reg, type };
  } else if (res && !isAllRegistrants(res.type) && res.holder.key === p.saKey) {
    removed = pr.registrations.filter((r) => others(r) && r.key === p.saKey);
    pr.reservation = { holder: reg, type };
  } else {
    if (p.saKey === 0n) throw invalidFieldInParameterList(8);
    removed = pr.registrations.filter((r) => others(r) && r.key === p.saKey);
    if (removed.length === 0) conflict();
  }
  pr.registrations = pr.registrations.filter((r) => !removed.includes(r));
  if (pr.reservation && !pr.registrations.includes(pr.reservation.holder)) pr.reservation = undefined;
  notify(lu, removed, Asc.REGISTRATIONS_PREEMPTED, task.nexus.id);
  // A preempt that changes the reservation's type tells the registrants that remain.
  if (typeBefore !== undefined && pr.reservation && pr.reservation.type !== typeBefore) {
    notify(lu, pr.registrations.filter(others), Asc.RESERVATIONS_RELEASED, task.nexus.id);
  }
  pr.generation = (pr.generation + 1) >>> 0;
}

/** REGISTER AND MOVE: hands the reservation to another initiator port, registering it. */
function registerAndMove(lu: LogicalUnit, port: PrPort, raw: Buffer): void {
  const pr = lu.pr;
  const key = raw.readBigUInt64BE(0);
  const saKey = raw.readBigUInt64BE(8);
  const reg = pr.find(port);
  if (!reg || reg.key !== key) conflict();
  const res = pr.reservation;
  if (!res || res.holder !== reg || isAllRegistrants(res.type)) conflict();
  if (saKey === 0n) throw invalidFieldInParameterList(8);
  const unreg = (raw[17] & 0x02) !== 0;
  const aptpl = (raw[17] & APTPL) !== 0;
  const relTpId = raw.readUInt16BE(18);
  const tidLength = raw.readUInt32BE(20);
  if (24 + tidLength > raw.length) throw parameterListLengthError();
  const tid = decodeTransportId(raw, 24);
  if (!tid || tid.port.isid === undefined) throw invalidFieldInParameterList(24);
  const dest: PrPort = { initiatorName: tid.port.initiatorName, isid: tid.port.isid, relTpId };
  if (matches(reg, dest)) throw invalidFieldInParameterList(24);
  let target = pr.find(dest);
  if (target) target.key = saKey;
  else {
    target = { key: saKey, initiatorName: dest.initiatorName, isid: dest.isid, relTpId: dest.relTpId };
    pr.registrations.push(target);
  }
  pr.reservation = { holder: target, type: res.type };
  if (unreg) pr.registrations = pr.registrations.filter((r) => r !== reg);
  pr.aptpl = aptpl;
  pr.generation = (pr.generation + 1) >>> 0;
}

/** PERSISTENT RESERVE OUT; APTPL state is saved before the command completes. */
async function persistentReserveOut(task: ScsiTask, lu: LogicalUnit): Promise<ScsiResponse> {
  const cdb = task.cdb;
  const action = cdb[1] & 0x1f;
  const scope = cdb[2] >> 4;
  const type = cdb[2] & 0x0f;
  const length = cdb.readUInt32BE(5);
  const data = task.dataOut;
  if (!data || data.length < length) throw parameterListLengthError();
  const raw = data.subarray(0, length);
  const port = portOf(task.nexus);
  const wasAptpl = lu.pr.aptpl;
  if (action === SA.REGISTER_AND_MOVE) {
    if (length < BASIC_PARAMETER_LIST) throw parameterListLengthError();
    registerAndMove(lu, port, raw);
    await lu.persistPr(wasAptpl);
    return goodDataOut(length);
  }
  const flags = length >= 21 ? raw[20] : 0;
  const specIPt = (flags & SPEC_I_PT) !== 0;
  if (length !== BASIC_PARAMETER_LIST && !(specIPt && length > BASIC_PARAMETER_LIST)) throw parameterListLengthError();
  if ((flags & APTPL) && !lu.config.prStore) throw invalidFieldInParameterList(20, 0);
  const p: Params = {
    key: raw.readBigUInt64BE(0), saKey: raw.readBigUInt64BE(8), specIPt, allTgPt: (flags & ALL_TG_PT) !== 0, aptpl: (flags & APTPL) !== 0, raw,
  };
  const needsType = action === SA.RESERVE || action === SA.RELEASE
    || ((action === SA.PREEMPT || action === SA.PREEMPT_AND_ABORT) && lu.pr.reservation !== undefined);
  if (needsType) {
    if (scope !== 0) throw invalidFieldInCdb(2, 7);
    if (!isValidPrType(type)) throw invalidFieldInCdb(2, 3);
  }
  switch (action) {
    case SA.REGISTER: registerAction(lu, task, port, p, false); break;
    case SA.REGISTER_AND_IGNORE: registerAction(lu, task, port, p, true); break;
    case SA.RESERVE: reserveAction(lu, port, p, type); break;
    case SA.RELEASE: releaseAction(lu, task, port, p, type); break;
    case SA.CLEAR: clearAction(lu, task, port, p); break;
    case SA.PREEMPT: case SA.PREEMPT_AND_ABORT: preemptAction(lu, task, port, p, type); break;
    default: throw invalidFieldInCdb(1, 4);
  }
  await lu.persistPr(wasAptpl);
  return goodDataOut(length);
}

const USAGE = [0x5f, 0x1f, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00];

export const prOutCommands: CommandSpec[] = Object.values(SA).map((sa) => ({
  opcode: Opcode.PERSISTENT_RESERVE_OUT, sa, name: 'PERSISTENT RESERVE OUT', reservation: 'allowed' as const,
  handler: persistentReserveOut, usage: [USAGE[0], sa, ...USAGE.slice(2)],
}));
