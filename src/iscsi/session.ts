import type { Logger } from '../util/log.ts';
import type { ITNexus, ScsiTarget } from '../scsi/types.ts';
import type { SessionParams } from './negotiation.ts';
import type { RawPdu } from './framer.ts';
import type { Task, R2tState } from './scsi_command.ts';

/**
 * One iSCSI session (RFC 7143 §4.2): its identity, I_T nexus, CmdSN window and task
 * table. MaxConnections is 1, so a session has exactly one connection at a time;
 * the connection owns the socket and the StatSN.
 */

/** What a session needs from the connection carrying it. */
export interface SessionConnection {
  readonly remoteAddress: string;
  /** Handles one PDU whose CmdSN has been admitted. */
  execute(pdu: RawPdu): void;
  destroy(reason: string): void;
}

/** A target as sessions see it; `scsi` and ACLs may be replaced by updateTarget. */
export interface TargetEntry {
  iqn: string;
  alias?: string;
  allowedInitiators?: string[];
  chap?: { user: string; secret: string; mutualUser?: string; mutualSecret?: string };
  scsi: ScsiTarget;
}

/** RFC 7143 §4.2.2.1: commands the target accepts from ExpCmdSN on (MaxCmdSN - ExpCmdSN + 1). */
export const COMMAND_WINDOW = 128;
/** Past this many unfinished tasks the window closes down, which bounds a session's load. */
export const MAX_TASKS_PER_SESSION = 256;

export class Session {
  readonly tsih: number;
  readonly initiatorName: string;
  readonly isid: string;
  readonly target: TargetEntry | undefined;
  readonly nexus: ITNexus | undefined;
  readonly params: SessionParams;
  readonly log: Logger;
  conn: SessionConnection;
  expCmdSN: number;
  maxCmdSN: number;
  readonly tasks = new Map<number, Task>();
  readonly r2ts = new Map<number, R2tState>();
  /** ITTs of recently aborted tasks, so their late Data-Out is dropped silently. */
  readonly recentlyAborted = new Set<number>();
  /** Bytes of write buffers allocated for tasks still gathering data. */
  writeBufferBytes = 0;
  /** Set by the framer's data placement for the write command being read. */
  placedCommand: { itt: number; buffer: Buffer } | undefined;
  private nextTtt = 1;
  private readonly queued = new Map<number, RawPdu>();
  ended = false;

  constructor(
    init: { tsih: number; initiatorName: string; isid: string; target: TargetEntry | undefined; params: SessionParams; cmdSN: number; tpgt: number },
    conn: SessionConnection,
    log: Logger,
  ) {
    this.tsih = init.tsih;
    this.initiatorName = init.initiatorName;
    this.isid = init.isid;
    this.target = init.target;
    this.params = init.params;
    this.conn = conn;
    this.log = log;
    this.expCmdSN = init.cmdSN >>> 0;
    this.maxCmdSN = (init.cmdSN + COMMAND_WINDOW - 1) >>> 0;
    if (init.target !== undefined) {
      this.nexus = {
        id: `${init.initiatorName},i,0x${init.isid}|${init.target.iqn},t,0x${init.tpgt.toString(16)}`,
        initiatorName: init.initiatorName,
        isid: init.isid,
        targetName: init.target.iqn,
        tpgt: init.tpgt,
        relativeTargetPortId: 1,
      };
    }
  }

  get discovery(): boolean {
    return this.target === undefined;
  }

  /**
   * RFC 7143 §4.2.2.1: non-immediate commands are handled in CmdSN order; one ahead of
   * ExpCmdSN waits for the gap to fill; one outside the window is silently ignored.
   */
  admit(pdu: RawPdu): void {
    const immediate = (pdu.bhs[0] & 0x40) !== 0;
    if (immediate) {
      this.conn.execute(pdu);
      return;
    }
    const cmdSN = pdu.bhs.readUInt32BE(24);
    const ahead = (cmdSN - this.expCmdSN) >>> 0;
    if (ahead === 0) {
      this.expCmdSN = (this.expCmdSN + 1) >>> 0;
      this.conn.execute(pdu);
      while (this.queued.size > 0 && !this.ended) {
        const next = this.queued.get(this.expCmdSN);
        if (next === undefined) break;
        this.queued.delete(this.expCmdSN);
        this.expCmdSN = (this.expCmdSN + 1) >>> 0;
        this.conn.execute(next);
      }
    } else if (ahead <= ((this.maxCmdSN - this.expCmdSN) >>> 0) && !this.queued.has(cmdSN)) {
      this.queued.set(cmdSN, pdu);
    } else {
      this.log.debug({ cmdSN, expCmdSN: this.expCmdSN }, 'command outside the CmdSN window ignored');
    }
    this.updateWindow();
  }

  /**
   * The full window stays open until unfinished tasks pass MAX_TASKS_PER_SESSION -
   * COMMAND_WINDOW; then it narrows, so no initiator can keep more than about
   * MAX_TASKS_PER_SESSION tasks here. MaxCmdSN only ever moves forward.
   */
  updateWindow(): void {
    const open = Math.min(COMMAND_WINDOW, Math.max(MAX_TASKS_PER_SESSION - this.tasks.size, 1));
    const max = (this.expCmdSN + open - 1) >>> 0;
    if (((max - this.maxCmdSN) | 0) > 0) this.maxCmdSN = max;
  }

  allocateTtt(): number {
    const ttt = this.nextTtt;
    this.nextTtt = this.nextTtt >= 0x7fffffff ? 1 : this.nextTtt + 1;
    return ttt;
  }

  /** Drops a task: no response will be sent; a result still coming is discarded. */
  dropTask(task: Task): void {
    task.aborted = true;
    this.releaseBuffer(task);
    this.tasks.delete(task.itt);
    for (const ttt of task.openR2ts) this.r2ts.delete(ttt);
    task.openR2ts.length = 0;
    this.recentlyAborted.add(task.itt);
    if (this.recentlyAborted.size > 256) {
      const oldest = this.recentlyAborted.values().next().value as number;
      this.recentlyAborted.delete(oldest);
    }
  }

  /** Gives back the task's share of the write-buffer budget (once). */
  releaseBuffer(task: Task): void {
    if (task.buffer === undefined) return;
    this.writeBufferBytes -= task.buffer.length;
    task.buffer = undefined;
  }

  dropAllTasks(): void {
    for (const t of [...this.tasks.values()]) this.dropTask(t);
  }

  clearQueue(): void {
    this.queued.clear();
  }

  get commandsInFlight(): number {
    return this.tasks.size;
  }
}

function sessionKey(initiatorName: string, isid: string, targetIqn: string): string {
  return `${initiatorName}\0${isid}\0${targetIqn}`;
}

/** All sessions of a server, by identity (initiator name, ISID, target) and by TSIH. */
export class SessionRegistry {
  private readonly byKey = new Map<string, Session>();
  private readonly byTsih = new Map<number, Session>();
  private lastTsih = 0;

  allocateTsih(): number {
    for (let i = 0; i < 65535; i++) {
      this.lastTsih = (this.lastTsih % 65535) + 1;
      if (!this.byTsih.has(this.lastTsih)) return this.lastTsih;
    }
    return 0;
  }

  find(initiatorName: string, isid: string, targetIqn: string): Session | undefined {
    return this.byKey.get(sessionKey(initiatorName, isid, targetIqn));
  }

  findByTsih(tsih: number): Session | undefined {
    return this.byTsih.get(tsih);
  }

  add(s: Session): void {
    // First, so a SCSI layer that refuses the nexus leaves nothing registered.
    if (s.nexus !== undefined) s.target!.scsi.nexusAdded(s.nexus);
    this.byKey.set(sessionKey(s.initiatorName, s.isid, s.target?.iqn ?? ''), s);
    this.byTsih.set(s.tsih, s);
  }

  /** Ends a session: its tasks are dropped and the SCSI layer forgets the nexus. */
  end(s: Session): void {
    if (s.ended) return;
    s.ended = true;
    s.dropAllTasks();
    s.clearQueue();
    const key = sessionKey(s.initiatorName, s.isid, s.target?.iqn ?? '');
    if (this.byKey.get(key) === s) this.byKey.delete(key);
    if (this.byTsih.get(s.tsih) === s) this.byTsih.delete(s.tsih);
    if (s.nexus !== undefined) {
      try {
        s.target!.scsi.nexusRemoved(s.nexus);
      } catch (err) {
        s.log.error({ err }, 'nexusRemoved failed');
      }
    }
  }

  all(): Session[] {
    return [...this.byTsih.values()];
  }
}
