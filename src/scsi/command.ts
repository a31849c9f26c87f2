import type { Logger } from '../util/log.ts';
import type { LogicalUnit } from './logical_unit.ts';
import type { ScsiResponse, ScsiTask } from './types.ts';

/**
 * Where a command sits in SPC-4's table of commands allowed in the presence of
 * reservations: `allowed` always runs; `read` runs for non-holders of Write Exclusive
 * reservations only; `write` conflicts for every non-holder.
 */
export type ReservationClass = 'allowed' | 'read' | 'write';

/** What a command handler can see of the target device besides its own LU. */
export interface TargetServices {
  readonly logger: Logger;
  /** The LUNs that exist now, ascending. */
  luns(): number[];
  /** The logical unit behind `lun`, if any. */
  unit(lun: number): LogicalUnit | undefined;
  /** Every logical unit, for lookups by designator (EXTENDED COPY). */
  units(): Iterable<LogicalUnit>;
  /** The command set, for REPORT SUPPORTED OPERATION CODES. */
  commands(): readonly CommandSpec[];
}

export type CommandHandler = (task: ScsiTask, lu: LogicalUnit, target: TargetServices) => Promise<ScsiResponse> | ScsiResponse;
/** For the commands that answer on any LUN, whether or not a logical unit is there. */
export type AnyLunHandler = (task: ScsiTask, lu: LogicalUnit | undefined, target: TargetServices) => Promise<ScsiResponse> | ScsiResponse;

interface CommandSpecBase {
  readonly opcode: number;
  /** Service action, for opcodes that multiplex by service action. */
  readonly sa?: number;
  readonly name: string;
  /** CDB USAGE DATA of REPORT SUPPORTED OPERATION CODES: byte 0 is the opcode, then bits a CDB may set. */
  readonly usage: readonly number[];
  readonly reservation: ReservationClass;
  /** False for the few commands that neither report nor clear unit attentions (SAM-5 5.14). */
  readonly reportsUnitAttention?: boolean;
  /** True for commands that run while a sanitize is in progress (SBC-3 4.11). */
  readonly allowedDuringSanitize?: boolean;
  /** Commands that only some logical units implement (UNMAP needs a thin LU). */
  readonly supported?: (lu: LogicalUnit) => boolean;
  /** Nominal and recommended timeouts in seconds for the command timeouts descriptor. */
  readonly timeouts?: { nominal: number; recommended: number };
}

/** One command (or one service action of a command) as this target implements it. */
export type CommandSpec =
  | (CommandSpecBase & { readonly anyLun?: false; readonly handler: CommandHandler })
  | (CommandSpecBase & { readonly anyLun: true; readonly handler: AnyLunHandler });

/** Opcodes whose CDB byte 1 carries a 5-bit service action. */
export const SERVICE_ACTION_OPCODES: ReadonlySet<number> = new Set([0x48, 0x5e, 0x5f, 0x83, 0x84, 0x9e, 0xa3]);
