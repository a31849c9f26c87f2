import { DataInFlag, InitiatorOpcode, RejectReason, RESERVED_TAG, ScsiResponseFlag, ScsiServiceResponse } from './constants.ts';
import { decodeDataOut, decodeScsiCommand, encodeDataIn, encodeR2T, encodeScsiResponse, LUN_UNSUPPORTED } from './pdu.ts';
import type { RawPdu } from './framer.ts';
import type { Session } from './session.ts';
import { ioBuffers } from './io_buffer_pool.ts';
import { ScsiStatus, type ScsiResponse, type ScsiTask } from '../scsi/types.ts';

/**
 * SCSI Command, Data-Out, R2T, Data-In and SCSI Response (RFC 7143 §11.3–11.8):
 * collect write data (immediate, unsolicited, solicited by R2T), hand the task to the
 * ScsiTarget, and return data and status with as few PDUs as the limits allow.
 */

/** What the data path needs from the connection. */
export interface DataPathConnection {
  /**
   * Queues a PDU. `onSent` runs once the socket no longer needs `data` (written, or
   * the connection is gone), so a lent buffer can be taken back.
   */
  send(bhs: Buffer, data?: Buffer, onSent?: () => void): void;
  /**
   * Puts what is queued on the wire now rather than at the end of the event-loop turn:
   * the initiator is idle until it sees an R2T (MaxOutstandingR2T is often 1).
   */
  sendQueuedNow(): void;
  /** Returns the StatSN for a status-bearing PDU and advances it. */
  takeStatSN(): number;
  /** The StatSN for PDUs that do not carry status (R2T, Data-In without S). */
  peekStatSN(): number;
  reject(pdu: RawPdu, reason: number): void;
  destroy(reason: string): void;
}

/** Writes larger than this are refused; it bounds what one command can make us allocate. */
export const MAX_WRITE_LENGTH = 64 * 1024 * 1024;
/**
 * Write data one session may hold while gathering it; past this, new writes get TASK SET
 * FULL and the initiator retries, instead of one session making us allocate gigabytes.
 */
export const MAX_SESSION_WRITE_BUFFER = 256 * 1024 * 1024;
/**
 * Node reads a socket at most 64 KiB at a time, so immediate data longer than this is
 * split across reads and copied by the framer anyway: it might as well be copied into
 * a pooled buffer. Shorter data may lie in one chunk and is then used in place.
 */
const SPLIT_IMMEDIATE_BYTES = 64 * 1024;

export interface R2tState {
  task: Task;
  ttt: number;
  offset: number;
  length: number;
  received: number;
  nextDataSN: number;
}

export interface Task {
  itt: number;
  lun: number;
  read: boolean;
  write: boolean;
  attribute: number;
  edtl: number;
  cdb: Buffer;
  /** Write data being gathered; undefined for reads and for writes complete at arrival. */
  buffer: Buffer | undefined;
  /** A pooled buffer lent to the SCSI layer for read data (ScsiTask.dataInBuffer). */
  dataIn: Buffer | undefined;
  received: number;
  /** Unsolicited Data-Out still expected (F=0 on the command), and where it must end. */
  unsolicitedOpen: boolean;
  unsolicitedEnd: number;
  unsolicitedDataSN: number;
  unsolicitedOffset: number;
  nextR2tOffset: number;
  r2tSN: number;
  openR2ts: number[];
  dataSN: number;
  aborted: boolean;
}

function extendedCdb(pdu: RawPdu, cdb: Buffer): Buffer | undefined {
  // RFC 7143 §11.2.1.4: AHS type 1 carries CDB bytes beyond the first 16.
  const ahs = pdu.ahs;
  if (ahs === undefined) return cdb;
  let off = 0;
  while (off + 4 <= ahs.length) {
    const len = ahs.readUInt16BE(off);
    const type = ahs[off + 2];
    if (off + 3 + len > ahs.length) return undefined;
    if (type === 1) return Buffer.concat([cdb, ahs.subarray(off + 4, off + 3 + len)]);
    off += (3 + len + 3) & ~3;
  }
  return cdb;
}

export function handleScsiCommand(s: Session, c: DataPathConnection, pdu: RawPdu): void {
  if (s.discovery) return c.reject(pdu, RejectReason.PROTOCOL_ERROR);
  const cmd = decodeScsiCommand(pdu.bhs);
  if (s.tasks.has(cmd.itt)) return c.reject(pdu, RejectReason.TASK_IN_PROGRESS);
  if (cmd.read && cmd.write) return c.reject(pdu, RejectReason.COMMAND_NOT_SUPPORTED);
  const cdb = extendedCdb(pdu, cmd.cdb);
  if (cdb === undefined) return c.reject(pdu, RejectReason.INVALID_PDU_FIELD);
  const imm = pdu.data.length;
  const p = s.params;
  if (imm > 0 && (!cmd.write || !p.immediateData || imm > cmd.expectedDataTransferLength || imm > p.firstBurstLength)) {
    return c.reject(pdu, RejectReason.PROTOCOL_ERROR);
  }
  if (!cmd.final && (!cmd.write || p.initialR2T)) return c.reject(pdu, RejectReason.PROTOCOL_ERROR);
  const edtl = cmd.write || cmd.read ? cmd.expectedDataTransferLength : 0;
  const task: Task = {
    itt: cmd.itt, lun: cmd.lun, read: cmd.read, write: cmd.write, attribute: cmd.attribute, edtl, cdb,
    buffer: undefined, dataIn: undefined, received: imm, unsolicitedOpen: false, unsolicitedEnd: 0, unsolicitedDataSN: 0,
    unsolicitedOffset: imm, nextR2tOffset: edtl, r2tSN: 0, openR2ts: [], dataSN: 0, aborted: false,
  };
  s.tasks.set(task.itt, task);
  if (cmd.read && ioBuffers.pools(edtl)) task.dataIn = ioBuffers.acquire(edtl);
  if (!cmd.write || imm === edtl) {
    const placedAll = imm > 0 ? takePlacedBuffer(s, task.itt, pdu.data, edtl) : undefined;
    execute(s, c, task, cmd.write && imm > 0 ? placedAll ?? pdu.data : undefined, placedAll !== undefined);
    return;
  }
  if (edtl > MAX_WRITE_LENGTH) {
    s.dropTask(task);
    sendStatus(s, c, task, { status: 0 }, ScsiServiceResponse.TARGET_FAILURE);
    return;
  }
  if (s.writeBufferBytes + edtl > MAX_SESSION_WRITE_BUFFER) {
    s.dropTask(task);
    sendStatus(s, c, task, { status: ScsiStatus.TASK_SET_FULL }, ScsiServiceResponse.COMMAND_COMPLETED);
    return;
  }
  const placed = imm > 0 ? takePlacedBuffer(s, task.itt, pdu.data, edtl) : undefined;
  task.buffer = placed ?? ioBuffers.acquire(edtl);
  s.writeBufferBytes += edtl;
  if (imm > 0 && placed === undefined) pdu.data.copy(task.buffer, 0);
  if (!cmd.final) {
    task.unsolicitedOpen = true;
    task.unsolicitedEnd = Math.min(p.firstBurstLength, edtl);
  }
  task.nextR2tOffset = task.unsolicitedOpen ? task.unsolicitedEnd : imm;
  issueR2ts(s, c, task);
}

function issueR2ts(s: Session, c: DataPathConnection, task: Task): void {
  const p = s.params;
  if (task.openR2ts.length >= p.maxOutstandingR2T || task.nextR2tOffset >= task.edtl) return;
  while (task.openR2ts.length < p.maxOutstandingR2T && task.nextR2tOffset < task.edtl) {
    const length = Math.min(p.maxBurstLength, task.edtl - task.nextR2tOffset);
    const ttt = s.allocateTtt();
    const r2t: R2tState = { task, ttt, offset: task.nextR2tOffset, length, received: 0, nextDataSN: 0 };
    s.r2ts.set(ttt, r2t);
    task.openR2ts.push(ttt);
    c.send(encodeR2T(task.lun, task.itt, ttt, c.peekStatSN(), s, task.r2tSN++, r2t.offset, length));
    task.nextR2tOffset += length;
  }
  c.sendQueuedNow();
}

/**
 * Where a PDU's data should land, so a segment split across socket reads is copied
 * once: a Data-Out's straight into its task's write buffer; a write command's immediate
 * data into a (pooled) buffer big enough for the whole transfer, which the command then
 * keeps. Everything is checked again when the PDU is handled.
 */
export function placeData(s: Session, bhs: Buffer, length: number): Buffer | undefined {
  const opcode = bhs[0] & 0x3f;
  if (opcode === InitiatorOpcode.SCSI_COMMAND) {
    const edtl = bhs.readUInt32BE(20);
    if ((bhs[1] & 0x20) === 0 || length > edtl || edtl > MAX_WRITE_LENGTH || s.writeBufferBytes + edtl > MAX_SESSION_WRITE_BUFFER) return undefined;
    if (length === edtl && length <= SPLIT_IMMEDIATE_BYTES) return undefined;
    const whole = ioBuffers.acquire(edtl);
    s.placedCommand = { itt: bhs.readUInt32BE(16), buffer: whole };
    return whole.subarray(0, length);
  }
  if (opcode !== InitiatorOpcode.SCSI_DATA_OUT) return undefined;
  const task = s.tasks.get(bhs.readUInt32BE(16));
  const buf = task?.buffer;
  if (buf === undefined) return undefined;
  const off = bhs.readUInt32BE(40);
  if (off + length > buf.length) return undefined;
  return buf.subarray(off, off + length);
}

/** The buffer placeData made for this command's immediate data, if that is where it is. */
function takePlacedBuffer(s: Session, itt: number, data: Buffer, edtl: number): Buffer | undefined {
  const placed = s.placedCommand;
  s.placedCommand = undefined;
  if (placed === undefined || placed.itt !== itt || placed.buffer.length !== edtl) return undefined;
  if (data.buffer !== placed.buffer.buffer || data.byteOffset !== placed.buffer.byteOffset) return undefined;
  return placed.buffer;
}

function place(task: Task, data: Buffer, offset: number): void {
  const dest = task.buffer!;
  if (data.buffer === dest.buffer && data.byteOffset === dest.byteOffset + offset) return;
  data.copy(dest, offset);
}

export function handleDataOut(s: Session, c: DataPathConnection, pdu: RawPdu): void {
  if (s.discovery) return c.reject(pdu, RejectReason.PROTOCOL_ERROR);
  const d = decodeDataOut(pdu.bhs);
  const task = s.tasks.get(d.itt);
  if (task === undefined || task.buffer === undefined) {
    if (s.recentlyAborted.has(d.itt)) return;
    return c.reject(pdu, RejectReason.INVALID_PDU_FIELD);
  }
  const len = pdu.data.length;
  if (d.ttt === RESERVED_TAG) {
    if (!task.unsolicitedOpen || d.dataSN !== task.unsolicitedDataSN || d.bufferOffset !== task.unsolicitedOffset || d.bufferOffset + len > task.unsolicitedEnd) {
      return failDataPhase(s, c, task, 'unsolicited Data-Out out of sequence (DataSN, offset or length)');
    }
    place(task, pdu.data, d.bufferOffset);
    task.unsolicitedDataSN++;
    task.unsolicitedOffset += len;
    task.received += len;
    if (d.final) task.unsolicitedOpen = false;
  } else {
    const r2t = s.r2ts.get(d.ttt);
    if (r2t === undefined || r2t.task !== task) return c.reject(pdu, RejectReason.INVALID_PDU_FIELD);
    if (d.dataSN !== r2t.nextDataSN || d.bufferOffset !== r2t.offset + r2t.received || r2t.received + len > r2t.length) {
      return failDataPhase(s, c, task, 'solicited Data-Out out of sequence (DataSN, offset or length)');
    }
    place(task, pdu.data, d.bufferOffset);
    r2t.nextDataSN++;
    r2t.received += len;
    task.received += len;
    if (d.final) {
      if (r2t.received !== r2t.length) return failDataPhase(s, c, task, 'R2T sequence ended short');
      s.r2ts.delete(r2t.ttt);
      task.openR2ts.splice(task.openR2ts.indexOf(r2t.ttt), 1);
      issueR2ts(s, c, task);
    }
  }
  if (task.received === task.edtl && task.openR2ts.length === 0 && !task.unsolicitedOpen) {
    const data = task.buffer;
    s.releaseBuffer(task);
    execute(s, c, task, data, true);
  }
}

/** Fixed-format sense: ABORTED COMMAND, DATA PHASE ERROR (SPC-4 4.5.3, ASC 0x4B/0x00). */
const DATA_PHASE_ERROR_SENSE = Buffer.from([0x70, 0, 0x0b, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x4b, 0x00, 0, 0, 0, 0]);

/**
 * A Data-Out sequence error. ERL 0 cannot recover the data within the command, so the
 * command ends with CHECK CONDITION (its later Data-Out is dropped quietly) and the
 * session goes on, rather than dropping every other command with the connection.
 */
function failDataPhase(s: Session, c: DataPathConnection, task: Task, why: string): void {
  s.log.warn({ itt: task.itt }, why);
  s.dropTask(task);
  sendStatus(s, c, task, { status: 0x02, sense: DATA_PHASE_ERROR_SENSE }, ScsiServiceResponse.COMMAND_COMPLETED);
}

/**
 * Hands the task to the SCSI target. `pooled` says dataOut came from `ioBuffers`; it
 * goes back there when the command settles, but only if the target declared, before
 * taking it, that nothing touches the data after that (otherwise it is left to the
 * collector: the device may still hold it).
 */
function execute(s: Session, c: DataPathConnection, task: Task, dataOut: Buffer | undefined, pooled = false): void {
  const target = s.target!.scsi;
  const lun = task.lun === LUN_UNSUPPORTED ? 0xffff : task.lun;
  const giveBack = pooled && dataOut !== undefined && target.dataOutReusable?.(lun, task.cdb) === true ? dataOut : undefined;
  const st: ScsiTask = {
    nexus: s.nexus!,
    lun,
    cdb: task.cdb,
    expectedLength: task.edtl,
    dataOut,
    dataInBuffer: task.dataIn,
    attribute: task.attribute,
  };
  let p: Promise<ScsiResponse>;
  try {
    p = target.execute(st);
  } catch (err) {
    p = Promise.reject(err);
  }
  p.then(
    (res) => {
      if (giveBack !== undefined) ioBuffers.release(giveBack);
      complete(s, c, task, res);
    },
    (err: unknown) => {
      if (giveBack !== undefined) ioBuffers.release(giveBack);
      takeBackDataIn(task);
      if (task.aborted || s.ended) return;
      s.log.error({ err, itt: task.itt }, 'SCSI target failed a task');
      s.tasks.delete(task.itt);
      sendStatus(s, c, task, { status: 0 }, ScsiServiceResponse.TARGET_FAILURE);
    },
  );
}

/** The SCSI layer is done with the lent data-in buffer and it is not being sent: back to the pool. */
function takeBackDataIn(task: Task): void {
  const lent = task.dataIn;
  if (lent === undefined) return;
  task.dataIn = undefined;
  ioBuffers.release(lent);
}

function complete(s: Session, c: DataPathConnection, task: Task, res: ScsiResponse): void {
  // An aborted task, or one whose connection is gone, sends nothing (RFC 7143 §4.2.3).
  if (task.aborted || s.ended || s.conn !== (c as unknown)) return takeBackDataIn(task);
  s.tasks.delete(task.itt);
  const data = task.read ? res.data : undefined;
  if (data === undefined || data.length === 0 || task.edtl === 0) {
    takeBackDataIn(task);
    sendStatus(s, c, task, res, ScsiServiceResponse.COMMAND_COMPLETED, data?.length ?? 0);
    return;
  }
  // Data in the lent buffer goes back to the pool when the socket is done with it.
  const lent = task.dataIn;
  task.dataIn = undefined;
  let onSent: (() => void) | undefined;
  if (lent !== undefined) {
    if (data.buffer === lent.buffer) onSent = () => ioBuffers.release(lent);
    else ioBuffers.release(lent);
  }
  const total = Math.min(data.length, task.edtl);
  const seg = s.params.initiatorMaxRecvDataSegmentLength;
  const withStatus = res.sense === undefined || res.sense.length === 0;
  let residualFlags = 0;
  let residual = 0;
  if (data.length < task.edtl) {
    residualFlags = DataInFlag.UNDERFLOW;
    residual = task.edtl - data.length;
  } else if (data.length > task.edtl) {
    residualFlags = DataInFlag.OVERFLOW;
    residual = data.length - task.edtl;
  }
  for (let off = 0; off < total; off += seg) {
    const n = Math.min(seg, total - off);
    const last = off + n >= total;
    const chunk = n === data.length ? data : data.subarray(off, off + n);
    if (last && withStatus) {
      const flags = DataInFlag.FINAL | DataInFlag.STATUS | residualFlags;
      s.updateWindow();
      c.send(encodeDataIn(flags, res.status, task.lun, task.itt, c.takeStatSN(), s, task.dataSN++, off, residual, n), chunk, onSent);
    } else {
      const flags = last ? DataInFlag.FINAL : 0;
      c.send(encodeDataIn(flags, 0, task.lun, task.itt, c.peekStatSN(), s, task.dataSN++, off, 0, n), chunk, last ? onSent : undefined);
    }
  }
  if (!withStatus) sendStatus(s, c, task, res, ScsiServiceResponse.COMMAND_COMPLETED, data.length);
}

function sendStatus(s: Session, c: DataPathConnection, task: Task, res: ScsiResponse, response: number, dataInLength = 0): void {
  let flags = 0;
  let residual = 0;
  if (response === ScsiServiceResponse.COMMAND_COMPLETED) {
    // What the CDB moved (or wanted to move) against what the initiator announced. A
    // command sent without the R or W bit has an expected length of 0, so any data its
    // CDB asks for is an overflow of that whole length (RFC 7143 §11.4.5.1, SPC-4 4.3.4),
    // never a silent GOOD as if nothing was asked.
    const actual = task.read ? dataInLength
      : task.write ? (res.dataOutLength ?? task.edtl)
      : (res.dataOutLength ?? res.data?.length ?? 0);
    if (actual < task.edtl) {
      flags = ScsiResponseFlag.UNDERFLOW;
      residual = task.edtl - actual;
    } else if (actual > task.edtl) {
      flags = ScsiResponseFlag.OVERFLOW;
      residual = actual - task.edtl;
    }
  }
  let senseData: Buffer | undefined;
  if (res.sense !== undefined && res.sense.length > 0) {
    // RFC 7143 §11.4.7.2: SenseLength (2 bytes) then the sense data.
    senseData = Buffer.allocUnsafe(2 + res.sense.length);
    senseData.writeUInt16BE(res.sense.length, 0);
    res.sense.copy(senseData, 2);
  }
  s.updateWindow();
  const bhs = encodeScsiResponse(flags, response, res.status, task.itt, c.takeStatSN(), s, task.dataSN + task.r2tSN, residual, senseData?.length ?? 0);
  c.send(bhs, senseData);
}
