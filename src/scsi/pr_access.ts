import type { CommandSpec } from './command.ts';
import { Opcode } from './constants.ts';
import type { LogicalUnit } from './logical_unit.ts';
import { good } from './lu_io.ts';
import { isWriteExclusive, portOf, registrantsHaveAccess } from './pr_state.ts';
import { ReservationConflictError } from './sense.ts';
import type { ITNexus, ScsiResponse, ScsiTask } from './types.ts';

/** Commands a RESERVE(6)/(10) holder's rivals may still send (SPC-2 5.5.1). */
const ALLOWED_UNDER_RESERVE: ReadonlySet<number> = new Set<number>([
  Opcode.INQUIRY, Opcode.REPORT_LUNS, Opcode.REQUEST_SENSE, Opcode.RELEASE_6, Opcode.RELEASE_10,
]);

/**
 * Whether `spec` may run for `nexus` under the LU's reservations. Called only when
 * a reservation or registration exists, so LUs without any pay nothing.
 */
export function reservationAllows(lu: LogicalUnit, nexus: ITNexus, spec: CommandSpec): boolean {
  if (lu.reservedBy !== undefined && lu.reservedBy !== nexus.id) {
    return ALLOWED_UNDER_RESERVE.has(spec.opcode) || (spec.opcode === Opcode.MAINTENANCE_IN);
  }
  const res = lu.pr.reservation;
  if (!res || spec.reservation === 'allowed') return true;
  const reg = lu.pr.find(portOf(nexus));
  if (reg && (res.holder === reg || registrantsHaveAccess(res.type))) return true;
  if (spec.reservation === 'write') return false;
  return isWriteExclusive(res.type);
}

/**
 * RESERVE(6)/(10): the whole LU for one I_T nexus. Refused while persistent
 * reservations are in use, as SPC-4 5.13.3 requires; reserving again is harmless.
 */
function reserve(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  if (lu.pr.reservation || lu.pr.active) throw new ReservationConflictError();
  if (lu.reservedBy !== undefined && lu.reservedBy !== task.nexus.id) throw new ReservationConflictError();
  lu.reservedBy = task.nexus.id;
  return good();
}

/** RELEASE(6)/(10): only the holder releases; from anyone else it is a no-op. */
function release(task: ScsiTask, lu: LogicalUnit): ScsiResponse {
  if (lu.pr.reservation) throw new ReservationConflictError();
  if (lu.reservedBy === task.nexus.id) lu.reservedBy = undefined;
  return good();
}

export const reserveCommands: CommandSpec[] = [
  { opcode: Opcode.RESERVE_6, name: 'RESERVE(6)', reservation: 'allowed', handler: reserve, usage: [0x16, 0x00, 0x00, 0x00, 0x00, 0x00] },
  { opcode: Opcode.RELEASE_6, name: 'RELEASE(6)', reservation: 'allowed', handler: release, usage: [0x17, 0x00, 0x00, 0x00, 0x00, 0x00] },
  {
    opcode: Opcode.RESERVE_10, name: 'RESERVE(10)', reservation: 'allowed', handler: reserve,
    usage: [0x56, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
  },
  {
    opcode: Opcode.RELEASE_10, name: 'RELEASE(10)', reservation: 'allowed', handler: release,
    usage: [0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
  },
];
