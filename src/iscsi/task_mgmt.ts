import { RejectReason, TargetOpcode, TaskMgmtFunction as F, TaskMgmtResponse as R } from './constants.ts';
import { decodePdu, encodePdu } from './pdu.ts';
import type { RawPdu } from './framer.ts';
import type { Session } from './session.ts';
import type { DataPathConnection } from './scsi_command.ts';

/**
 * Task management (RFC 7143 §11.5, SAM-5 §7). Aborted tasks are dropped without a
 * SCSI Response; the SCSI layer is told through abortTasks/lunReset/targetReset.
 */

export interface TaskMgmtContext {
  /** Every live session of the same target, this one included. */
  sessionsOfTarget(iqn: string): Session[];
  /** Ends every session of the target after the response is out (TARGET COLD RESET). */
  closeTargetSessions(iqn: string, reason: string): void;
}

export function handleTaskMgmt(s: Session, c: DataPathConnection, pdu: RawPdu, ctx: TaskMgmtContext): void {
  if (s.discovery) return c.reject(pdu, RejectReason.PROTOCOL_ERROR);
  const f = decodePdu(pdu.bhs).fields;
  const fn = f.function as number;
  const lun = f.lun as number;
  let response: number;
  try {
    response = perform(s, fn, lun, f.referencedTaskTag as number, f.refCmdSN as number, f.cmdSN as number, ctx);
  } catch (err) {
    s.log.error({ err, fn, lun }, 'task management function failed in the SCSI layer');
    response = R.FUNCTION_REJECTED;
  }
  s.updateWindow();
  c.send(encodePdu(TargetOpcode.SCSI_TASK_MGMT_RESPONSE, {
    response, itt: f.itt as number, statSN: c.takeStatSN(), expCmdSN: s.expCmdSN, maxCmdSN: s.maxCmdSN,
  }));
  if (fn === F.TARGET_COLD_RESET && response === R.FUNCTION_COMPLETE) ctx.closeTargetSessions(s.target!.iqn, 'target cold reset');
}

function perform(s: Session, fn: number, lun: number, rtt: number, refCmdSN: number, cmdSN: number, ctx: TaskMgmtContext): number {
  const scsi = s.target!.scsi;
  const nexus = s.nexus!;
  const lunExists = scsi.luns().includes(lun);
  switch (fn) {
    case F.ABORT_TASK: {
      const task = s.tasks.get(rtt);
      if (task !== undefined) {
        if (task.lun !== lun) return R.TASK_DOES_NOT_EXIST;
        s.dropTask(task);
        return R.FUNCTION_COMPLETE;
      }
      // RFC 7143 §11.5.1: a RefCmdSN in the window and before this TMF counts as received.
      const sinceExp = (refCmdSN - s.expCmdSN) >>> 0;
      const beforeUs = ((cmdSN - refCmdSN) | 0) > 0;
      if (sinceExp <= ((s.maxCmdSN - s.expCmdSN) >>> 0) && beforeUs) return R.FUNCTION_COMPLETE;
      return R.TASK_DOES_NOT_EXIST;
    }
    case F.ABORT_TASK_SET:
    case F.CLEAR_TASK_SET: {
      if (!lunExists) return R.LUN_DOES_NOT_EXIST;
      const scope = fn === F.ABORT_TASK_SET ? [s] : ctx.sessionsOfTarget(s.target!.iqn);
      for (const other of scope) dropLunTasks(other, lun);
      scsi.abortTasks?.(nexus, lun);
      return R.FUNCTION_COMPLETE;
    }
    case F.LOGICAL_UNIT_RESET: {
      if (!lunExists || !scsi.lunReset(nexus, lun)) return R.LUN_DOES_NOT_EXIST;
      for (const other of ctx.sessionsOfTarget(s.target!.iqn)) dropLunTasks(other, lun);
      return R.FUNCTION_COMPLETE;
    }
    case F.TARGET_WARM_RESET:
    case F.TARGET_COLD_RESET: {
      scsi.targetReset(nexus);
      for (const other of ctx.sessionsOfTarget(s.target!.iqn)) other.dropAllTasks();
      return R.FUNCTION_COMPLETE;
    }
    case F.TASK_REASSIGN:
      return R.TASK_ALLEGIANCE_REASSIGNMENT_NOT_SUPPORTED;
    default:
      return R.TASK_MANAGEMENT_FUNCTION_NOT_SUPPORTED;
  }
}

function dropLunTasks(s: Session, lun: number): void {
  for (const t of [...s.tasks.values()]) if (t.lun === lun) s.dropTask(t);
}
