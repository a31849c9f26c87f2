import type { Socket } from 'node:net';
import type { Logger } from '../util/log.ts';
import {
  BHS_LENGTH, InitiatorOpcode as Op, LoginStatus, LogoutReason, LogoutResponse, RejectReason, RESERVED_TAG, TargetOpcode,
} from './constants.ts';
import { crc32cUpdate } from '../util/crc32c.ts';
import { LoginFailure, PduFramingError } from './errors.ts';
import { iscsiCounters } from './counters.ts';
import { PduFramer, type RawPdu } from './framer.ts';
import { LoginStateMachine, type LoginHost, type LoginRequest, type LoginResult } from './login.ts';
import { decodePdu, encodePdu } from './pdu.ts';
import { handleDataOut, handleScsiCommand, placeData, type DataPathConnection } from './scsi_command.ts';
import { COMMAND_WINDOW, Session, type SessionRegistry, type TargetEntry } from './session.ts';
import { handleTaskMgmt, type TaskMgmtContext } from './task_mgmt.ts';
import { TextExchange, type DiscoveryContext } from './discovery.ts';
import { encodeText } from './text.ts';
import { ConnectionEvent, type ConnectionEventName } from './connection_log.ts';

/**
 * One TCP connection: reads PDUs, runs the login, then dispatches full-feature PDUs to
 * the session. Outgoing PDUs of one event-loop turn leave in one writev (cork until
 * setImmediate). Every error stays inside this connection.
 */

export interface ConnectionContext extends DiscoveryContext, TaskMgmtContext {
  readonly log: Logger;
  readonly registry: SessionRegistry;
  findTarget(iqn: string): TargetEntry | undefined;
  readonly discoveryChap: LoginHost['discoveryChap'];
  /** Idle time before a keepalive NOP-In; 0 = never. */
  readonly nopInIntervalMs: number;
  readonly loginTimeoutMs: number;
  connectionClosed(c: Connection): void;
  /** Whether this per-connection event may be logged in full (connection_log.ts); absent: always. */
  admitLog?(kind: ConnectionEventName, remoteAddress: string): boolean;
}

/** RFC 7143 §13.12: until negotiated, a PDU carries at most 8192 data bytes. */
const LOGIN_MAX_RECV_DATA_SEGMENT_LENGTH = 8192;
/** Stop reading from a peer that does not read its responses. */
const WRITE_HIGH_WATER = 32 * 1024 * 1024;
const PAD = Buffer.alloc(4);

const Phase = { LOGIN: 0, FULL_FEATURE: 1, CLOSED: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class Connection implements DataPathConnection {
  readonly remoteAddress: string;
  private readonly socket: Socket;
  private readonly ctx: ConnectionContext;
  private log: Logger;
  private readonly framer: PduFramer;
  private phase: Phase = Phase.LOGIN;
  private login: LoginStateMachine | undefined;
  session: Session | undefined;
  private statSN = 0;
  private headerDigest = false;
  private dataDigest = false;
  private corked = false;
  private nopPending = false;
  private readonly text = new TextExchange();
  private closingAfterFlush = false;
  private loginTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, ctx: ConnectionContext) {
    this.socket = socket;
    this.ctx = ctx;
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = ctx.log.child({ remote: this.remoteAddress });
    this.framer = new PduFramer(
      { maxDataSegmentLength: LOGIN_MAX_RECV_DATA_SEGMENT_LENGTH, headerDigest: false, dataDigest: false },
      (bhs, length) => (this.session !== undefined ? placeData(this.session, bhs, length) : undefined),
    );
    socket.setNoDelay(true);
    // A deadline for the whole login, not an idle timer: trickling bytes cannot hold it open.
    this.loginTimer = setTimeout(() => this.destroy('login timeout'), ctx.loginTimeoutMs);
    this.loginTimer.unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.destroy(`socket error: ${err.message}`));
    socket.on('close', () => this.destroy('socket closed'));
    socket.on('timeout', () => this.onIdle());
    socket.on('drain', () => socket.resume());
    this.login = new LoginStateMachine(this.loginHost());
  }

  private onData(chunk: Buffer): void {
    try {
      this.framer.push(chunk, (pdu) => this.dispatch(pdu));
    } catch (err) {
      if (err instanceof PduFramingError) {
        if (err.code === 'HEADER_DIGEST') iscsiCounters.headerDigestErrors++;
        if (this.mayLog(ConnectionEvent.DROPPED)) this.log.warn({ code: err.code }, `dropping connection: ${err.message}`);
      } else {
        this.log.error({ err }, 'dropping connection after an internal error');
      }
      this.destroy(err instanceof Error ? err.message : 'error');
    }
  }

  private onEnd(): void {
    if (!this.framer.atBoundary() && this.mayLog(ConnectionEvent.DROPPED)) this.log.warn('connection ended in the middle of a PDU');
    this.destroy('peer closed');
  }

  private onIdle(): void {
    if (this.phase !== Phase.FULL_FEATURE || this.ctx.nopInIntervalMs === 0) return;
    if (this.nopPending) return this.destroy('no answer to NOP-In keepalive');
    this.nopPending = true;
    const s = this.session!;
    this.send(encodePdu(TargetOpcode.NOP_IN, {
      itt: RESERVED_TAG, ttt: s.allocateTtt(), statSN: this.statSN, expCmdSN: s.expCmdSN, maxCmdSN: s.maxCmdSN,
    }));
  }

  // ---- output ----

  send(bhs: Buffer, data?: Buffer, onSent?: () => void): void {
    if (this.phase === Phase.CLOSED) {
      onSent?.();
      return;
    }
    const sock = this.socket;
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      setImmediate(this.flush);
    }
    sock.write(bhs);
    if (this.headerDigest) sock.write(digest(bhs, undefined));
    if (data !== undefined && data.length > 0) {
      // The callback runs when the write has completed or failed (the socket was
      // destroyed): either way the socket holds `data` no longer.
      sock.write(data, onSent);
      const pad = (4 - (data.length & 3)) & 3;
      if (pad > 0) sock.write(PAD.subarray(0, pad));
      if (this.dataDigest) sock.write(digest(data, pad > 0 ? PAD.subarray(0, pad) : undefined));
    } else {
      onSent?.();
    }
  }

  sendQueuedNow(): void {
    if (!this.corked || this.phase === Phase.CLOSED) return;
    // One writev now; the socket stays corked until the pending flush at setImmediate.
    this.socket.uncork();
    this.socket.cork();
  }

  private readonly flush = (): void => {
    this.corked = false;
    this.socket.uncork();
    if (this.closingAfterFlush) {
      this.socket.end();
      return;
    }
    if (this.socket.writableLength > WRITE_HIGH_WATER) this.socket.pause();
  };

  takeStatSN(): number {
    const sn = this.statSN;
    this.statSN = (this.statSN + 1) >>> 0;
    return sn;
  }

  peekStatSN(): number {
    return this.statSN;
  }

  reject(pdu: RawPdu, reason: number): void {
    const s = this.session;
    this.log.debug({ reason, opcode: pdu.bhs[0] & 0x3f }, 'rejecting PDU');
    const bhs = encodePdu(TargetOpcode.REJECT, {
      reason, itt: RESERVED_TAG, statSN: this.takeStatSN(), expCmdSN: s?.expCmdSN ?? 0, maxCmdSN: s?.maxCmdSN ?? 0,
      dataSegmentLength: BHS_LENGTH,
    });
    this.send(bhs, Buffer.from(pdu.bhs));
  }

  /** Closes the connection now; a session on it ends (ERL 0 has no connection recovery). */
  destroy(reason: string): void {
    if (this.phase === Phase.CLOSED) return;
    this.phase = Phase.CLOSED;
    clearTimeout(this.loginTimer);
    this.framer.stop();
    this.log.debug({ reason }, 'connection closed');
    this.socket.destroy();
    const s = this.session;
    if (s !== undefined && s.conn === this) this.ctx.registry.end(s);
    this.ctx.connectionClosed(this);
  }

  /** Sends what is queued, then closes (after Logout or a failed login). */
  private closeAfterFlush(): void {
    this.closingAfterFlush = true;
    this.framer.stop();
    if (!this.corked) this.socket.end();
    const s = this.session;
    if (s !== undefined && s.conn === this) this.ctx.registry.end(s);
  }

  // ---- input ----

  private dispatch(pdu: RawPdu): void {
    if (this.phase === Phase.CLOSED || this.closingAfterFlush) return;
    const opcode = pdu.bhs[0] & 0x3f;
    if (this.phase === Phase.LOGIN) return this.onLoginPhasePdu(opcode, pdu);
    this.nopPending = false;
    if (!pdu.dataDigestOk) {
      iscsiCounters.dataDigestErrors++;
      this.reject(pdu, RejectReason.DATA_DIGEST_ERROR);
      // ERL 0 cannot ask again for lost write data.
      if (opcode === Op.SCSI_DATA_OUT) this.closeAfterFlush();
      return;
    }
    switch (opcode) {
      case Op.SCSI_DATA_OUT:
        return handleDataOut(this.session!, this, pdu);
      case Op.NOP_OUT:
      case Op.SCSI_COMMAND:
      case Op.SCSI_TASK_MGMT_REQUEST:
      case Op.TEXT_REQUEST:
      case Op.LOGOUT_REQUEST:
        return this.session!.admit(pdu);
      case Op.LOGIN_REQUEST:
        return this.reject(pdu, RejectReason.PROTOCOL_ERROR);
      default:
        return this.reject(pdu, RejectReason.COMMAND_NOT_SUPPORTED);
    }
  }

  /** Runs a PDU whose CmdSN the session has admitted (called by Session.admit). */
  execute(pdu: RawPdu): void {
    if (this.phase !== Phase.FULL_FEATURE || this.closingAfterFlush) return;
    const s = this.session!;
    switch (pdu.bhs[0] & 0x3f) {
      case Op.SCSI_COMMAND:
        return handleScsiCommand(s, this, pdu);
      case Op.NOP_OUT:
        return this.onNopOut(s, pdu);
      case Op.SCSI_TASK_MGMT_REQUEST:
        return handleTaskMgmt(s, this, pdu, this.ctx);
      case Op.TEXT_REQUEST:
        return this.text.handle(s, this, pdu, this.ctx);
      case Op.LOGOUT_REQUEST:
        return this.onLogout(s, pdu);
    }
  }

  private onNopOut(s: Session, pdu: RawPdu): void {
    const f = decodePdu(pdu.bhs).fields;
    const itt = f.itt as number;
    if (itt === RESERVED_TAG) return; // an answer to our NOP-In, or a ping wanting none
    const data = pdu.data.length > s.params.initiatorMaxRecvDataSegmentLength ? pdu.data.subarray(0, s.params.initiatorMaxRecvDataSegmentLength) : pdu.data;
    s.updateWindow();
    this.send(encodePdu(TargetOpcode.NOP_IN, {
      lun: (f.lun as number) < 16384 ? f.lun : 0, itt, ttt: RESERVED_TAG, statSN: this.takeStatSN(),
      expCmdSN: s.expCmdSN, maxCmdSN: s.maxCmdSN, dataSegmentLength: data.length,
    }), Buffer.from(data));
  }

  private onLogout(s: Session, pdu: RawPdu): void {
    const f = decodePdu(pdu.bhs).fields;
    const reason = f.reasonCode as number;
    let response: number = LogoutResponse.CLOSED_SUCCESSFULLY;
    if (reason === LogoutReason.REMOVE_CONNECTION_FOR_RECOVERY) response = LogoutResponse.CONNECTION_RECOVERY_NOT_SUPPORTED;
    else if (reason !== LogoutReason.CLOSE_SESSION && reason !== LogoutReason.CLOSE_CONNECTION) return this.reject(pdu, RejectReason.INVALID_PDU_FIELD);
    if (response === LogoutResponse.CLOSED_SUCCESSFULLY) s.dropAllTasks();
    s.updateWindow();
    this.send(encodePdu(TargetOpcode.LOGOUT_RESPONSE, {
      response, itt: f.itt as number, statSN: this.takeStatSN(), expCmdSN: s.expCmdSN, maxCmdSN: s.maxCmdSN,
      time2Wait: 0, time2Retain: 0,
    }));
    if (response === LogoutResponse.CLOSED_SUCCESSFULLY) this.closeAfterFlush();
  }

  // ---- login ----

  private onLoginPhasePdu(opcode: number, pdu: RawPdu): void {
    if (opcode !== Op.LOGIN_REQUEST) {
      // RFC 7143 §6.3: anything but Login before full feature phase ends the login.
      const fail = new LoginFailure(LoginStatus.INVALID_DURING_LOGIN, 'PDU_DURING_LOGIN', `opcode 0x${opcode.toString(16)} during login`);
      return this.sendLoginFailure(fail, pdu.bhs.readUInt32BE(16), '000000000000');
    }
    const req = decodePdu(pdu.bhs).fields as unknown as LoginRequest;
    const reply = this.login!.handle(req, pdu.data);
    const data = encodeText(reply.pairs);
    if (data.length > LOGIN_MAX_RECV_DATA_SEGMENT_LENGTH && reply.failure === undefined) {
      return this.sendLoginFailure(new LoginFailure(LoginStatus.TARGET_ERROR, 'LOGIN_REPLY_TOO_LONG', 'login reply too long'), req.itt, req.isid);
    }
    if (reply.failure !== undefined) return this.sendLoginFailure(reply.failure, req.itt, req.isid);
    this.send(encodePdu(TargetOpcode.LOGIN_RESPONSE, {
      transit: reply.transit, csg: reply.csg, nsg: reply.nsg, versionMax: 0, versionActive: 0, isid: reply.isid,
      tsih: reply.tsih, itt: reply.itt, statSN: this.takeStatSN(), expCmdSN: req.cmdSN,
      maxCmdSN: (req.cmdSN + COMMAND_WINDOW - 1) >>> 0, statusClass: 0, statusDetail: 0, dataSegmentLength: data.length,
    }), data);
    if (reply.result !== undefined) this.enterFullFeature(reply.result);
  }

  private sendLoginFailure(fail: LoginFailure, itt: number, isid: string): void {
    if (this.mayLog(ConnectionEvent.LOGIN_FAILED)) {
      this.log.warn({ initiator: this.login?.initiator || undefined, code: fail.code, status: fail.status.toString(16).padStart(4, '0') },
        `login failed: ${fail.message}`);
    }
    this.send(encodePdu(TargetOpcode.LOGIN_RESPONSE, {
      isid: /^[0-9a-f]{12}$/.test(isid) ? isid : '000000000000', itt, statSN: this.takeStatSN(),
      statusClass: fail.status >> 8, statusDetail: fail.status & 0xff,
    }));
    this.closeAfterFlush();
  }

  private enterFullFeature(result: LoginResult): void {
    const p = result.params;
    this.phase = Phase.FULL_FEATURE;
    this.login = undefined;
    clearTimeout(this.loginTimer);
    this.framer.settings.maxDataSegmentLength = p.targetMaxRecvDataSegmentLength;
    this.framer.settings.headerDigest = p.headerDigest;
    this.framer.settings.dataDigest = p.dataDigest;
    // Our own digests start with the first PDU after the final login response; that
    // response is already queued, so switching now is exact.
    this.headerDigest = p.headerDigest;
    this.dataDigest = p.dataDigest;
    this.socket.setTimeout(this.ctx.nopInIntervalMs);
    if (this.mayLog(ConnectionEvent.LOGIN)) {
      this.log.info({ initiator: result.initiatorName, target: result.target?.iqn, discovery: result.discovery,
        headerDigest: p.headerDigest, dataDigest: p.dataDigest }, 'login complete');
    }
    this.log.debug({ params: p }, 'negotiated parameters');
  }

  private mayLog(kind: ConnectionEventName): boolean {
    return this.ctx.admitLog?.(kind, this.remoteAddress) ?? true;
  }

  private loginHost(): LoginHost {
    return {
      findTarget: (iqn) => this.ctx.findTarget(iqn),
      discoveryChap: this.ctx.discoveryChap,
      targetPortalGroupTag: this.ctx.targetPortalGroupTag,
      complete: (r) => this.createSession(r),
    };
  }

  private createSession(r: LoginResult): number {
    const reg = this.ctx.registry;
    const targetIqn = r.target?.iqn ?? '';
    if (r.tsih !== 0) {
      // Connection reinstatement: same session, new connection; the old one's tasks go.
      const old = reg.findByTsih(r.tsih);
      if (old === undefined || old.initiatorName !== r.initiatorName || old.isid !== r.isid || (old.target?.iqn ?? '') !== targetIqn) {
        throw new LoginFailure(LoginStatus.SESSION_DOES_NOT_EXIST, 'SESSION_DOES_NOT_EXIST', `no session with TSIH ${r.tsih}`);
      }
      const prev = old.conn;
      old.conn = this;
      old.dropAllTasks();
      prev.destroy('connection reinstated');
      old.expCmdSN = r.cmdSN >>> 0;
      old.maxCmdSN = (r.cmdSN + COMMAND_WINDOW - 1) >>> 0;
      this.session = old;
      return old.tsih;
    }
    const existing = r.target !== undefined ? reg.find(r.initiatorName, r.isid, targetIqn) : undefined;
    if (existing !== undefined) {
      // Session reinstatement (RFC 7143 §6.3.5): the old session and its tasks end first.
      this.log.info({ initiator: r.initiatorName, tsih: existing.tsih }, 'session reinstatement');
      reg.end(existing);
      existing.conn.destroy('session reinstated');
    }
    const tsih = reg.allocateTsih();
    if (tsih === 0) throw new LoginFailure(LoginStatus.OUT_OF_RESOURCES, 'NO_TSIH', 'no free TSIH');
    const target = r.target !== undefined ? this.ctx.findTarget(r.target.iqn) : undefined;
    if (r.target !== undefined && target === undefined) throw new LoginFailure(LoginStatus.TARGET_REMOVED, 'TARGET_REMOVED', 'target removed during login');
    const s = new Session(
      { tsih, initiatorName: r.initiatorName, isid: r.isid, target, params: r.params, cmdSN: r.cmdSN, tpgt: this.ctx.targetPortalGroupTag },
      this, this.log.child({ tsih, initiator: r.initiatorName }),
    );
    this.log = s.log;
    reg.add(s);
    this.session = s;
    return tsih;
  }
}

function digest(a: Buffer, pad: Buffer | undefined): Buffer {
  let crc = crc32cUpdate(0, a);
  if (pad !== undefined) crc = crc32cUpdate(crc, pad);
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(crc, 0);
  return out;
}
