import { BerthError } from '../util/errors.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import type { CommandSpec, TargetServices } from './command.ts';
import { CommandTable } from './command_table.ts';
import { Asc, Opcode, SenseKey } from './constants.ts';
import { errorResponse, type IoDirection } from './error_response.ts';
import { LogicalUnit } from './logical_unit.ts';
import { reservationAllows } from './pr_access.ts';
import { buildSense, invalidFieldInCdb, invalidOpcode } from './sense.ts';
import { sanitizeProgress } from './spc_basic.ts';
import {
  ScsiStatus, type ITNexus, type LogicalUnitConfig, type ScsiResponse, type ScsiTarget, type ScsiTask,
} from './types.ts';

/** A command that needs a logical unit to run on. */
type UnitSpec = Exclude<CommandSpec, { anyLun: true }>;

/** SAM-5 task attributes as the transport passes them. */
const TASK_ORDERED = 2;
const TASK_HEAD_OF_QUEUE = 3;
/** Flat space addressing reaches LUN 16383. */
const MAX_LUN = 16383;
/**
 * Commands whose data-out goes to the device's `write` and nowhere else (sbc_rw.ts), and
 * whose promise settles only after that write's has.
 */
const PLAIN_WRITES: ReadonlySet<number> = new Set([Opcode.WRITE_6, Opcode.WRITE_10, Opcode.WRITE_12, Opcode.WRITE_16]);

export class LunExistsError extends BerthError {
  constructor(lun: number) { super('LUN_EXISTS', `LUN ${lun} already exists`); }
}

export class LunNotFoundError extends BerthError {
  constructor(lun: number) { super('LUN_NOT_FOUND', `LUN ${lun} does not exist`); }
}

function checkCondition(key: number, asc: number, progress?: number): ScsiResponse {
  return { status: ScsiStatus.CHECK_CONDITION, sense: buildSense(key, asc, progress === undefined ? undefined : { progress }) };
}

/**
 * The logical units behind one iSCSI target and the SCSI command sets over them.
 * Each command passes, in order: command lookup, LU lookup, unit attention,
 * sanitize-in-progress, reservation check, task ordering, then its handler; every
 * failure becomes status and sense in error_response.ts.
 */
export class ScsiTargetDevice implements ScsiTarget {
  readonly #units = new Map<number, LogicalUnit>();
  #lunList: number[] = [];
  readonly #nexuses = new Map<string, ITNexus>();
  readonly #table = new CommandTable();
  readonly #logger: Logger;
  readonly #services: TargetServices;

  constructor(opts: { logger?: Logger } = {}) {
    this.#logger = (opts.logger ?? silentLogger()).child({ component: 'scsi' });
    this.#services = {
      logger: this.#logger,
      luns: () => this.#lunList,
      unit: (lun) => this.#units.get(lun),
      units: () => this.#units.values(),
      commands: () => this.#table.all,
    };
  }

  addLun(lun: number, cfg: LogicalUnitConfig): void {
    if (!Number.isInteger(lun) || lun < 0 || lun > MAX_LUN) throw new BerthError('BAD_LUN', `LUN must be 0..${MAX_LUN}`);
    if (this.#units.has(lun)) throw new LunExistsError(lun);
    const lu = new LogicalUnit(lun, cfg);
    for (const nexus of this.#nexuses.values()) lu.meet(nexus);
    for (const other of this.#units.values()) other.uas.establishAll(Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
    this.#units.set(lun, lu);
    this.#lunList = [...this.#units.keys()].sort((a, b) => a - b);
  }

  removeLun(lun: number): void {
    if (!this.#units.delete(lun)) throw new LunNotFoundError(lun);
    this.#lunList = this.#lunList.filter((l) => l !== lun);
    for (const other of this.#units.values()) other.uas.establishAll(Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
  }

  /** After the LU's device grew or shrank: every nexus learns it at its next command. */
  capacityChanged(lun: number): void {
    const lu = this.#units.get(lun);
    if (!lu) throw new LunNotFoundError(lun);
    lu.uas.establishAll(Asc.CAPACITY_DATA_HAS_CHANGED);
  }

  /** The logical unit behind `lun`, for the engine and tests. */
  unit(lun: number): LogicalUnit | undefined { return this.#units.get(lun); }

  luns(): number[] { return [...this.#lunList]; }

  lunReset(nexus: ITNexus, lun: number): boolean {
    const lu = this.#units.get(lun);
    if (!lu) return false;
    this.#resetUnit(lu, nexus, Asc.BUS_DEVICE_RESET_FUNCTION_OCCURRED);
    return true;
  }

  targetReset(nexus: ITNexus): void {
    for (const lu of this.#units.values()) this.#resetUnit(lu, nexus, Asc.POWER_ON_RESET);
  }

  nexusAdded(nexus: ITNexus): void {
    this.#nexuses.set(nexus.id, nexus);
    for (const lu of this.#units.values()) lu.meet(nexus);
  }

  nexusRemoved(nexus: ITNexus): void {
    this.#nexuses.delete(nexus.id);
    for (const lu of this.#units.values()) lu.forget(nexus.id);
  }

  /**
   * A reset drops RESERVE(6) reservations and mode changes (SAM-5 6.3); persistent
   * reservations survive. Every nexus, the one that asked included, gets a unit
   * attention (SAM-5 5.14; libiscsi's MultipathIO.Reset checks every path).
   */
  #resetUnit(lu: LogicalUnit, nexus: ITNexus, asc: number): void {
    lu.meet(nexus);
    lu.reservedBy = undefined;
    lu.mode.wce = true;
    lu.mode.swp = false;
    for (const id of lu.uas.nexusIds()) lu.uas.clear(id);
    lu.uas.establishAll(asc);
  }

  dataOutReusable(lun: number, cdb: Buffer): boolean {
    const lu = this.#units.get(lun);
    return lu !== undefined && PLAIN_WRITES.has(cdb[0]) && lu.device.releasesWriteBuffers === true;
  }

  /**
   * Not an async function: the common path (admitted, no ordered barrier) returns the
   * handler's own chain with one `then`, which saves promise hops on every READ and WRITE.
   */
  execute(task: ScsiTask): Promise<ScsiResponse> {
    let lu: LogicalUnit | undefined;
    let spec: UnitSpec;
    try {
      const found = this.#table.lookup(task.cdb);
      lu = this.#units.get(task.lun);
      if (typeof found === 'string') return Promise.resolve(this.#unknown(task, lu, found));
      if (task.cdb.length < found.usage.length) throw invalidFieldInCdb(0);
      if (found.anyLun) return this.#settle(found.handler(task, lu, this.#services), 'read');
      if (!lu) return Promise.resolve(checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.LOGICAL_UNIT_NOT_SUPPORTED));
      spec = found;
      const refused = this.#admit(task, lu, spec);
      if (refused) return Promise.resolve(refused);
      if (task.attribute === TASK_ORDERED) return this.#settle(this.#ordered(task, lu, spec), 'read');
      const barrier = lu.orderedBarrier;
      if (barrier && task.attribute !== TASK_HEAD_OF_QUEUE) {
        const unit = lu;
        return barrier.then(() => this.#run(task, unit, spec));
      }
    } catch (err) {
      return Promise.resolve(errorResponse(err, 'read', this.#logger));
    }
    return this.#run(task, lu, spec);
  }

  /** A handler's result as a promise whose failures are already status and sense. */
  #settle(result: Promise<ScsiResponse> | ScsiResponse, direction: IoDirection): Promise<ScsiResponse> {
    if (!(result instanceof Promise)) return Promise.resolve(result);
    return result.then(undefined, (err: unknown) => errorResponse(err, direction, this.#logger));
  }

  /**
   * The checks every command of an LU passes before it runs, in SAM-5 order: unit
   * attention, sanitize in progress, reservations. Returns the refusal, if any.
   */
  #admit(task: ScsiTask, lu: LogicalUnit, spec: UnitSpec): ScsiResponse | undefined {
    const nexus = task.nexus;
    if (!lu.nexuses.has(nexus.id)) lu.meet(nexus);
    if (lu.uas.pending > 0 && spec.reportsUnitAttention !== false) {
      const ua = lu.uas.take(nexus.id);
      if (ua !== undefined) return checkCondition(SenseKey.UNIT_ATTENTION, ua);
    }
    if (lu.sanitize && !spec.allowedDuringSanitize) {
      return checkCondition(SenseKey.NOT_READY, Asc.LU_NOT_READY_SANITIZE_IN_PROGRESS, sanitizeProgress(lu));
    }
    if ((lu.reservedBy !== undefined || lu.pr.reservation !== undefined) && !reservationAllows(lu, nexus, spec)) {
      return { status: ScsiStatus.RESERVATION_CONFLICT };
    }
    // An opcode this LU lacks is an invalid opcode; a lacking service action is an invalid field.
    if (spec.supported && !spec.supported(lu)) throw spec.sa === undefined ? invalidOpcode() : invalidFieldInCdb(1, 4);
    return undefined;
  }

  /** Counting (lu.config.ioStats) rides on the completion callbacks already there: no extra promise hop. */
  #run(task: ScsiTask, lu: LogicalUnit, spec: UnitSpec): Promise<ScsiResponse> {
    const gate = lu.commandGate;
    const epoch = gate.enter();
    const stats = lu.config.ioStats;
    const started = stats === undefined ? 0 : stats.start();
    const done = (res: ScsiResponse): ScsiResponse => {
      gate.leave(epoch);
      if (stats !== undefined) stats.finish(task, res, started);
      return res;
    };
    const direction = spec.reservation === 'write' ? 'write' : 'read';
    let result: Promise<ScsiResponse> | ScsiResponse;
    try {
      result = spec.handler(task, lu, this.#services);
    } catch (err) {
      return Promise.resolve(done(errorResponse(err, direction, this.#logger)));
    }
    if (!(result instanceof Promise)) return Promise.resolve(done(result));
    return result.then(done, (err: unknown) => done(errorResponse(err, direction, this.#logger)));
  }

  /** An ordered task waits for every earlier task; later tasks wait for it. */
  async #ordered(task: ScsiTask, lu: LogicalUnit, spec: UnitSpec): Promise<ScsiResponse> {
    const previous = lu.orderedBarrier;
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => { release = resolve; });
    lu.orderedBarrier = barrier;
    try {
      if (previous) await previous;
      await lu.commandGate.drain();
      return await this.#run(task, lu, spec);
    } finally {
      if (lu.orderedBarrier === barrier) lu.orderedBarrier = undefined;
      release();
    }
  }

  /** Unknown opcode or service action: a missing LU and pending UAs still come first. */
  #unknown(task: ScsiTask, lu: LogicalUnit | undefined, why: 'bad-opcode' | 'bad-service-action'): ScsiResponse {
    if (!lu) return checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.LOGICAL_UNIT_NOT_SUPPORTED);
    if (!lu.nexuses.has(task.nexus.id)) lu.meet(task.nexus);
    const ua = lu.uas.take(task.nexus.id);
    if (ua !== undefined) return checkCondition(SenseKey.UNIT_ATTENTION, ua);
    const err = why === 'bad-opcode' ? invalidOpcode() : invalidFieldInCdb(1, 4);
    return { status: ScsiStatus.CHECK_CONDITION, sense: err.toSense() };
  }
}
