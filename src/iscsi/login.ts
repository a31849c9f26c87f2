import { LoginStage, LoginStatus, ISCSI_VERSION } from './constants.ts';
import { ChapAuthenticator, type ChapConfig } from './chap.ts';
import { LoginFailure, TextFormatError } from './errors.ts';
import { LOGIN_KEYS, Negotiator, TARGET_PREFERENCES, type SessionParams } from './negotiation.ts';
import { decodeText, DEFAULT_TEXT_LIMITS, type TextPairs } from './text.ts';

/**
 * The login phase of one connection (RFC 7143 §6.3): security and operational stages,
 * T/C/CSG/NSG transitions, identity checks, CHAP and ACLs. It makes decisions and
 * builds replies; the connection encodes and sends them. Kept synchronous so the
 * connection can switch digests exactly at the PDU that follows the final response.
 */

/** The subset of a target the login needs to see. */
export interface LoginTarget {
  iqn: string;
  alias?: string;
  allowedInitiators?: string[];
  chap?: ChapConfig;
}

export interface LoginHost {
  findTarget(iqn: string): LoginTarget | undefined;
  readonly discoveryChap: ChapConfig | undefined;
  readonly targetPortalGroupTag: number;
  /** Registers the new session; returns its TSIH. May throw LoginFailure. */
  complete(result: LoginResult): number;
}

export interface LoginRequest {
  transit: boolean;
  continue: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionMin: number;
  isid: string;
  tsih: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
}

export interface LoginResult {
  discovery: boolean;
  initiatorName: string;
  isid: string;
  /** The TSIH the initiator asked for: 0 for a new session. */
  tsih: number;
  cid: number;
  target: LoginTarget | undefined;
  params: SessionParams;
  /** CmdSN of the login: the first ExpCmdSN of the session. */
  cmdSN: number;
}

export interface LoginReply {
  transit: boolean;
  csg: number;
  nsg: number;
  status: number;
  pairs: TextPairs;
  tsih: number;
  isid: string;
  itt: number;
  /** Set on the final response: the session is in full feature phase. */
  result?: LoginResult;
  /** Set when the login failed: close the connection after sending. */
  failure?: LoginFailure;
}

/** Login keys the state machine consumes; it answers them itself where an answer is due. */
const HANDLED_BY_LOGIN: ReadonlySet<string> = new Set(['InitiatorName', 'InitiatorAlias', 'TargetName', 'SessionType', 'AuthMethod']);

/** RFC 7143 §4.2.7.1: iSCSI names are at most 223 bytes. */
const MAX_NAME_LENGTH = 223;

const Auth = { NONE_YET: 0, WAIT_CHAP_A: 1, WAIT_CHAP_R: 2, DONE: 3 } as const;
type Auth = (typeof Auth)[keyof typeof Auth];

export class LoginStateMachine {
  private readonly host: LoginHost;
  private readonly negotiator = new Negotiator(TARGET_PREFERENCES);
  private first: LoginRequest | undefined;
  private stage: number = LoginStage.SECURITY_NEGOTIATION;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discovery = false;
  private initiatorName = '';
  private target: LoginTarget | undefined;
  private chapConfig: ChapConfig | undefined;
  private chap: ChapAuthenticator | undefined;
  private auth: Auth = Auth.NONE_YET;
  private declaredMrdsl = false;
  private isid = '';

  constructor(host: LoginHost) {
    this.host = host;
  }

  /** Who is logging in, once known: for logs. */
  get initiator(): string {
    return this.initiatorName;
  }

  handle(req: LoginRequest, data: Buffer): LoginReply {
    try {
      return this.step(req, data);
    } catch (err) {
      const failure = err instanceof LoginFailure
        ? err
        : err instanceof TextFormatError
          ? new LoginFailure(LoginStatus.INITIATOR_ERROR, err.code, err.message)
          : new LoginFailure(LoginStatus.TARGET_ERROR, 'LOGIN_INTERNAL', 'internal error during login');
      return { transit: false, csg: this.stage, nsg: 0, status: failure.status, pairs: [], tsih: 0, isid: req.isid, itt: req.itt, failure };
    }
  }

  private step(req: LoginRequest, data: Buffer): LoginReply {
    this.checkHeader(req);
    this.pendingBytes += data.length;
    if (this.pendingBytes > DEFAULT_TEXT_LIMITS.maxTotal) {
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'TEXT_TOO_LONG', 'login text exceeds 64 KiB');
    }
    this.pending.push(data);
    if (req.continue) {
      // RFC 7143 §6.3: acknowledge a partial text with an empty response in the same stage.
      return this.reply(req, false, req.csg, 0, []);
    }
    const text = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const keys = decodeText(text);
    const map = new Map<string, string>();
    for (const [k, v] of keys) map.set(k, v);

    const answers: TextPairs = [];
    if (this.initiatorName === '') this.identify(map, answers);
    if (req.csg === LoginStage.SECURITY_NEGOTIATION) this.security(map, answers);
    else this.requireAuthDone(map);

    const operational = keys.filter(([k]) => !LOGIN_KEYS.has(k));
    answers.push(...this.negotiator.respond(operational, this.discovery));
    for (const [k] of keys) {
      // Keys only a target may send (TargetAlias, TargetAddress, …) mean nothing from an initiator.
      if (LOGIN_KEYS.has(k) && !HANDLED_BY_LOGIN.has(k) && !k.startsWith('CHAP_')) answers.push([k, 'Irrelevant']);
    }

    let transit = req.transit;
    if (transit && req.csg === LoginStage.SECURITY_NEGOTIATION && this.auth !== Auth.DONE) {
      if (this.auth === Auth.NONE_YET && this.chapConfig !== undefined) {
        throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, 'CHAP_REQUIRED', 'target requires CHAP');
      }
      transit = false;
    }
    if (transit || req.csg === LoginStage.LOGIN_OPERATIONAL_NEGOTIATION) this.declareMrdsl(answers);
    if (!transit) return this.reply(req, false, req.csg, 0, answers);

    this.stage = req.nsg;
    if (req.nsg !== LoginStage.FULL_FEATURE_PHASE) return this.reply(req, true, req.csg, req.nsg, answers);

    const result: LoginResult = {
      discovery: this.discovery,
      initiatorName: this.initiatorName,
      isid: req.isid,
      tsih: req.tsih,
      cid: req.cid,
      target: this.target,
      params: { ...this.negotiator.params },
      cmdSN: this.first!.cmdSN,
    };
    const tsih = this.host.complete(result);
    const r = this.reply(req, true, req.csg, req.nsg, answers);
    r.tsih = tsih;
    r.result = result;
    return r;
  }

  private checkHeader(req: LoginRequest): void {
    if (this.first === undefined) {
      if (req.versionMin > ISCSI_VERSION) {
        throw new LoginFailure(LoginStatus.UNSUPPORTED_VERSION, 'UNSUPPORTED_VERSION', `version ${req.versionMin} not supported`);
      }
      this.first = req;
      this.isid = req.isid;
      if (req.csg !== LoginStage.SECURITY_NEGOTIATION && req.csg !== LoginStage.LOGIN_OPERATIONAL_NEGOTIATION) {
        throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'BAD_STAGE', `login cannot start in stage ${req.csg}`);
      }
      this.stage = req.csg;
    } else if (req.isid !== this.first.isid || req.tsih !== this.first.tsih || req.cid !== this.first.cid) {
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'LOGIN_ID_CHANGED', 'ISID, TSIH or CID changed during login');
    }
    if (req.csg !== this.stage) {
      throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'BAD_STAGE', `CSG ${req.csg} while in stage ${this.stage}`);
    }
    if (req.transit) {
      const validNext = req.nsg === LoginStage.FULL_FEATURE_PHASE || (req.nsg === LoginStage.LOGIN_OPERATIONAL_NEGOTIATION && req.csg === LoginStage.SECURITY_NEGOTIATION);
      if (!validNext || req.continue) {
        throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'BAD_TRANSITION', `invalid transition ${req.csg}→${req.nsg}`);
      }
    }
  }

  /** First PDU of the login: who is this, where to, and is it allowed. */
  private identify(keys: Map<string, string>, answers: TextPairs): void {
    const name = keys.get('InitiatorName');
    if (name === undefined || name.length === 0) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'MISSING_INITIATOR_NAME', 'InitiatorName missing');
    if (Buffer.byteLength(name) > MAX_NAME_LENGTH) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'NAME_TOO_LONG', 'InitiatorName too long');
    const type = keys.get('SessionType') ?? 'Normal';
    if (type !== 'Normal' && type !== 'Discovery') throw new LoginFailure(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, 'SESSION_TYPE', 'unsupported SessionType');
    this.initiatorName = name;
    this.discovery = type === 'Discovery';
    if (this.discovery) {
      this.chapConfig = this.host.discoveryChap;
      return;
    }
    const targetName = keys.get('TargetName');
    if (targetName === undefined || targetName.length === 0) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'MISSING_TARGET_NAME', 'TargetName missing');
    if (Buffer.byteLength(targetName) > MAX_NAME_LENGTH) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'NAME_TOO_LONG', 'TargetName too long');
    const target = this.host.findTarget(targetName);
    if (target === undefined) throw new LoginFailure(LoginStatus.NOT_FOUND, 'TARGET_NOT_FOUND', 'no such target');
    if (target.allowedInitiators !== undefined && !target.allowedInitiators.includes(name)) {
      throw new LoginFailure(LoginStatus.AUTHORIZATION_FAILURE, 'INITIATOR_NOT_ALLOWED', 'initiator not in the target ACL');
    }
    this.target = target;
    this.chapConfig = target.chap;
    // RFC 7143 §13.9: returned in the first response of a normal session.
    answers.push(['TargetPortalGroupTag', String(this.host.targetPortalGroupTag)]);
    if (target.alias !== undefined) answers.push(['TargetAlias', target.alias]);
  }

  private security(keys: Map<string, string>, answers: TextPairs): void {
    const method = keys.get('AuthMethod');
    if (method !== undefined) {
      if (this.auth !== Auth.NONE_YET) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'DUPLICATE_KEY', 'AuthMethod negotiated twice');
      const offered = method.split(',');
      if (this.chapConfig !== undefined) {
        if (!offered.includes('CHAP')) {
          throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, 'CHAP_REQUIRED', 'target requires CHAP');
        }
        answers.push(['AuthMethod', 'CHAP']);
        this.chap = new ChapAuthenticator(this.chapConfig);
        this.auth = Auth.WAIT_CHAP_A;
      } else if (offered.includes('None')) {
        answers.push(['AuthMethod', 'None']);
        this.auth = Auth.DONE;
      } else {
        throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, 'NO_AUTH_METHOD', 'no common AuthMethod');
      }
    }
    if (keys.has('CHAP_A')) {
      if (this.auth !== Auth.WAIT_CHAP_A) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'CHAP_OUT_OF_ORDER', 'unexpected CHAP_A');
      answers.push(...this.chap!.start(keys.get('CHAP_A')));
      this.auth = Auth.WAIT_CHAP_R;
    } else if (keys.has('CHAP_R') || keys.has('CHAP_N')) {
      if (this.auth !== Auth.WAIT_CHAP_R) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'CHAP_OUT_OF_ORDER', 'unexpected CHAP_R');
      answers.push(...this.chap!.verify(keys));
      this.auth = Auth.DONE;
    }
    if (this.auth === Auth.NONE_YET && this.chapConfig === undefined && !keys.has('AuthMethod')) {
      // The initiator did not negotiate AuthMethod and nothing is required.
      this.auth = Auth.DONE;
    }
  }

  private requireAuthDone(keys: Map<string, string>): void {
    for (const k of keys.keys()) {
      if (k === 'AuthMethod' || k.startsWith('CHAP_')) {
        throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'SECURITY_KEY_OUT_OF_STAGE', `${k} outside the security stage`);
      }
    }
    if (this.auth === Auth.DONE) return;
    if (this.chapConfig !== undefined) throw new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, 'CHAP_REQUIRED', 'target requires CHAP');
    this.auth = Auth.DONE;
  }

  private declareMrdsl(answers: TextPairs): void {
    if (this.declaredMrdsl) return;
    this.declaredMrdsl = true;
    if (answers.some(([k]) => k === 'MaxRecvDataSegmentLength')) return;
    answers.push(['MaxRecvDataSegmentLength', String(TARGET_PREFERENCES.targetMaxRecvDataSegmentLength)]);
  }

  private reply(req: LoginRequest, transit: boolean, csg: number, nsg: number, pairs: TextPairs): LoginReply {
    return { transit, csg, nsg: transit ? nsg : 0, status: LoginStatus.SUCCESS, pairs, tsih: 0, isid: this.isid || req.isid, itt: req.itt };
  }
}
