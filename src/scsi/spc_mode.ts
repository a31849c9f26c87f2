import { cutTo } from './cdb.ts';
import type { CommandSpec } from './command.ts';
import { Asc, Opcode, SenseKey } from './constants.ts';
import type { LogicalUnit, ModeState } from './logical_unit.ts';
import { good, goodDataOut } from './lu_io.ts';
import {
  CheckConditionError, invalidFieldInCdb, invalidFieldInParameterList, parameterListLengthError,
} from './sense.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

const PAGE_CACHING = 0x08;
const PAGE_CONTROL = 0x0a;
const PAGE_INFORMATIONAL_EXCEPTIONS = 0x1c;
const PAGE_ALL = 0x3f;
const PC_CURRENT = 0;
const PC_CHANGEABLE = 1;
const PC_DEFAULT = 2;
const WP = 0x80;
const DPOFUA = 0x10;
const WCE = 0x04;
const SWP = 0x08;
const DBD = 0x08;
const LLBAA = 0x10;

/** Builds a page from `mode`; with `changeableOnly` only the bits MODE SELECT may change are set. */
type PageBuilder = (mode: ModeState, changeableOnly: boolean) => Buffer;

/** Caching mode page (SBC-3 6.4.5): WCE is the one changeable bit. */
function cachingPage(mode: ModeState, _changeableOnly: boolean): Buffer {
  const p = Buffer.alloc(20);
  p[0] = PAGE_CACHING;
  p[1] = 18;
  if (mode.wce) p[2] |= WCE;
  return p;
}

/**
 * Control mode page (SPC-4 7.5.8): QUEUE ALGORITHM MODIFIER 1 (unrestricted
 * reordering), TAS set, fixed-format sense (D_SENSE 0), SWP changeable.
 */
function controlPage(mode: ModeState, changeableOnly: boolean): Buffer {
  const p = Buffer.alloc(12);
  p[0] = PAGE_CONTROL;
  p[1] = 10;
  if (mode.swp) p[4] |= SWP;
  if (changeableOnly) return p;
  p[3] = 0x10;
  p[5] = 0x40;
  p.writeUInt16BE(0xffff, 8);
  return p;
}

/** Informational Exceptions Control page: exceptions disabled (DEXCPT), nothing to report. */
function informationalExceptionsPage(_mode: ModeState, changeableOnly: boolean): Buffer {
  const p = Buffer.alloc(12);
  p[0] = PAGE_INFORMATIONAL_EXCEPTIONS;
  p[1] = 10;
  if (!changeableOnly) p[2] = 0x08;
  return p;
}

const PAGES: ReadonlyMap<number, PageBuilder> = new Map<number, PageBuilder>([
  [PAGE_CACHING, cachingPage],
  [PAGE_CONTROL, controlPage],
  [PAGE_INFORMATIONAL_EXCEPTIONS, informationalExceptionsPage],
]);
/** Changeable masks: the bits MODE SELECT may alter. */
const CHANGEABLE: ModeState = { wce: true, swp: true };
const DEFAULTS: ModeState = { wce: true, swp: false };

function pagesFor(code: number, state: ModeState, changeableOnly: boolean): Buffer {
  if (code === PAGE_ALL) return Buffer.concat([...PAGES.values()].map((b) => b(state, changeableOnly)));
  const builder = PAGES.get(code);
  if (!builder) throw invalidFieldInCdb(2, 5);
  return builder(state, changeableOnly);
}

function stateFor(pc: number, lu: LogicalUnit): ModeState {
  switch (pc) {
    case PC_CURRENT: return lu.mode;
    case PC_CHANGEABLE: return CHANGEABLE;
    case PC_DEFAULT: return DEFAULTS;
    // PC 3 (saved values): nothing is savable.
    default: throw new CheckConditionError(SenseKey.ILLEGAL_REQUEST, Asc.SAVING_PARAMETERS_NOT_SUPPORTED);
  }
}

/** MODE SENSE (6/10) with optional block descriptor (long LBA for the 10-byte form with LLBAA). */
function modeSense(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  const cdb = task.cdb;
  const ten = cdb[0] === Opcode.MODE_SENSE_10;
  const dbd = (cdb[1] & DBD) !== 0;
  const llbaa = ten && (cdb[1] & LLBAA) !== 0;
  const pc = cdb[2] >> 6;
  const code = cdb[2] & 0x3f;
  const subpage = cdb[3];
  if (subpage !== 0 && !(subpage === 0xff && code === PAGE_ALL)) throw invalidFieldInCdb(3);
  const pages = pagesFor(code, stateFor(pc, lu), pc === PC_CHANGEABLE);
  const blockCount = lu.device.blockCount;
  let descriptor = Buffer.alloc(0);
  if (!dbd) {
    descriptor = Buffer.alloc(llbaa ? 16 : 8);
    if (llbaa) {
      descriptor.writeBigUInt64BE(BigInt(blockCount), 0);
      descriptor.writeUInt32BE(lu.device.blockSize, 12);
    } else {
      descriptor.writeUInt32BE(blockCount > 0xffffffff ? 0xffffffff : blockCount, 0);
      descriptor.writeUIntBE(lu.device.blockSize, 5, 3);
    }
  }
  const headerLength = ten ? 8 : 4;
  const out = Buffer.alloc(headerLength + descriptor.length + pages.length);
  const deviceSpecific = (lu.writeProtected ? WP : 0) | DPOFUA;
  if (ten) {
    out.writeUInt16BE(out.length - 2, 0);
    out[3] = deviceSpecific;
    if (llbaa && !dbd) out[4] = 0x01;
    out.writeUInt16BE(descriptor.length, 6);
  } else {
    out[0] = Math.min(out.length - 1, 0xff);
    out[2] = deviceSpecific;
    out[3] = descriptor.length;
  }
  descriptor.copy(out, headerLength);
  pages.copy(out, headerLength + descriptor.length);
  const allocation = ten ? cdb.readUInt16BE(7) : cdb[4];
  return good(cutTo(out, allocation));
}

/**
 * MODE SELECT (6/10). PF must be set and SP clear (nothing is savable). Each page must
 * match our page length, and may change only changeable bits; any other difference
 * is INVALID FIELD IN PARAMETER LIST pointing at the byte. Other nexuses get MODE
 * PARAMETERS CHANGED.
 */
function modeSelect(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  const cdb = task.cdb;
  const ten = cdb[0] === Opcode.MODE_SELECT_10;
  if ((cdb[1] & 0x10) === 0) throw invalidFieldInCdb(1, 4);
  if (cdb[1] & 0x01) throw invalidFieldInCdb(1, 0);
  const length = ten ? cdb.readUInt16BE(7) : cdb[4];
  if (length === 0) return goodDataOut(0);
  const data = task.dataOut;
  const headerLength = ten ? 8 : 4;
  if (!data || data.length < length || length < headerLength) throw parameterListLengthError();
  const params = data.subarray(0, length);
  const descriptorLength = ten ? params.readUInt16BE(6) : params[3];
  let at = headerLength + descriptorLength;
  if (at > length) throw parameterListLengthError();
  const next: ModeState = { ...lu.mode };
  while (at < length) {
    if (at + 2 > length) throw parameterListLengthError();
    const code = params[at] & 0x3f;
    if (params[at] & 0xc0) throw invalidFieldInParameterList(at, 7);
    const builder = PAGES.get(code);
    if (!builder) throw invalidFieldInParameterList(at, 5);
    const current = builder(lu.mode, false);
    const pageLength = params[at + 1] + 2;
    if (pageLength !== current.length) throw invalidFieldInParameterList(at + 1);
    if (at + pageLength > length) throw parameterListLengthError();
    const sent = params.subarray(at, at + pageLength);
    const changeable = builder(CHANGEABLE, true);
    for (let i = 2; i < pageLength; i++) {
      if (((sent[i] ^ current[i]) & ~changeable[i]) !== 0) throw invalidFieldInParameterList(at + i);
    }
    if (code === PAGE_CACHING) next.wce = (sent[2] & WCE) !== 0;
    if (code === PAGE_CONTROL) next.swp = (sent[4] & SWP) !== 0;
    at += pageLength;
  }
  const changed = next.wce !== lu.mode.wce || next.swp !== lu.mode.swp;
  Object.assign(lu.mode, next);
  if (changed) lu.uas.establishAll(Asc.MODE_PARAMETERS_CHANGED, task.nexus.id);
  return goodDataOut(length);
}

export const modeCommands: CommandSpec[] = [
  { opcode: Opcode.MODE_SENSE_6, name: 'MODE SENSE(6)', reservation: 'read', handler: modeSense, usage: [0x1a, 0x08, 0xff, 0xff, 0xff, 0x00] },
  { opcode: Opcode.MODE_SENSE_10, name: 'MODE SENSE(10)', reservation: 'read', handler: modeSense, usage: [0x5a, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00] },
  { opcode: Opcode.MODE_SELECT_6, name: 'MODE SELECT(6)', reservation: 'write', handler: modeSelect, usage: [0x15, 0x11, 0x00, 0x00, 0xff, 0x00] },
  { opcode: Opcode.MODE_SELECT_10, name: 'MODE SELECT(10)', reservation: 'write', handler: modeSelect, usage: [0x55, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00] },
];
