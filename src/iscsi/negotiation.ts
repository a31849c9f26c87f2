import { LoginStatus } from './constants.ts';
import { LoginFailure } from './errors.ts';
import type { TextPairs } from './text.ts';

/**
 * Operational parameter negotiation (RFC 7143 §6.2, §13). Pure. Each key has a type
 * that fixes how the answer is computed from the initiator's offer and our value:
 * list (first offered value we support), numerical min/max, boolean and/or,
 * declarative (no answer needed; we record the value).
 */

export interface SessionParams {
  headerDigest: boolean;
  dataDigest: boolean;
  /** The initiator's MaxRecvDataSegmentLength: the most we may put in one PDU to it. */
  initiatorMaxRecvDataSegmentLength: number;
  /** Ours: the most it may put in one PDU to us. */
  targetMaxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxOutstandingR2T: number;
  maxConnections: number;
  dataPDUInOrder: boolean;
  dataSequenceInOrder: boolean;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  errorRecoveryLevel: number;
}

/** RFC 7143 §13 defaults, which hold for every key nobody offered. */
export function rfcDefaults(): SessionParams {
  return {
    headerDigest: false,
    dataDigest: false,
    initiatorMaxRecvDataSegmentLength: 8192,
    targetMaxRecvDataSegmentLength: 8192,
    maxBurstLength: 262144,
    firstBurstLength: 65536,
    initialR2T: true,
    immediateData: true,
    maxOutstandingR2T: 1,
    maxConnections: 1,
    dataPDUInOrder: true,
    dataSequenceInOrder: true,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    errorRecoveryLevel: 0,
  };
}

/** What this target offers; chosen for throughput (big bursts, unsolicited data allowed). */
export const TARGET_PREFERENCES: SessionParams = {
  headerDigest: false,
  dataDigest: false,
  initiatorMaxRecvDataSegmentLength: 8192,
  targetMaxRecvDataSegmentLength: 262144,
  maxBurstLength: 16776192,
  firstBurstLength: 262144,
  initialR2T: false,
  immediateData: true,
  maxOutstandingR2T: 16,
  maxConnections: 1,
  dataPDUInOrder: true,
  dataSequenceInOrder: true,
  defaultTime2Wait: 2,
  defaultTime2Retain: 20,
  errorRecoveryLevel: 0,
};

type NumKey = { [K in keyof SessionParams]: SessionParams[K] extends number ? K : never }[keyof SessionParams];
type BoolKey = { [K in keyof SessionParams]: SessionParams[K] extends boolean ? K : never }[keyof SessionParams];

type KeyRule =
  | { type: 'digest'; param: 'headerDigest' | 'dataDigest' }
  | { type: 'min' | 'max'; param: NumKey; lo: number; hi: number; discovery: boolean }
  | { type: 'and' | 'or'; param: BoolKey; discovery: boolean }
  | { type: 'declare'; param: NumKey; lo: number; hi: number }
  | { type: 'fixed'; answer: string }
  | { type: 'minConst'; ours: number; lo: number; hi: number }
  | { type: 'irrelevant' };

const MAX_24 = 16777215;

/** The key table of RFC 7143 §13 (and RFC 3720 keys initiators still send). */
const RULES: ReadonlyMap<string, KeyRule> = new Map<string, KeyRule>([
  ['HeaderDigest', { type: 'digest', param: 'headerDigest' }],
  ['DataDigest', { type: 'digest', param: 'dataDigest' }],
  ['MaxConnections', { type: 'min', param: 'maxConnections', lo: 1, hi: 65535, discovery: true }],
  ['InitialR2T', { type: 'or', param: 'initialR2T', discovery: false }],
  ['ImmediateData', { type: 'and', param: 'immediateData', discovery: false }],
  ['MaxRecvDataSegmentLength', { type: 'declare', param: 'initiatorMaxRecvDataSegmentLength', lo: 512, hi: MAX_24 }],
  ['MaxBurstLength', { type: 'min', param: 'maxBurstLength', lo: 512, hi: MAX_24, discovery: false }],
  ['FirstBurstLength', { type: 'min', param: 'firstBurstLength', lo: 512, hi: MAX_24, discovery: false }],
  ['DefaultTime2Wait', { type: 'max', param: 'defaultTime2Wait', lo: 0, hi: 3600, discovery: true }],
  ['DefaultTime2Retain', { type: 'min', param: 'defaultTime2Retain', lo: 0, hi: 3600, discovery: true }],
  ['MaxOutstandingR2T', { type: 'min', param: 'maxOutstandingR2T', lo: 1, hi: 65535, discovery: false }],
  ['DataPDUInOrder', { type: 'or', param: 'dataPDUInOrder', discovery: false }],
  ['DataSequenceInOrder', { type: 'or', param: 'dataSequenceInOrder', discovery: false }],
  ['ErrorRecoveryLevel', { type: 'min', param: 'errorRecoveryLevel', lo: 0, hi: 2, discovery: true }],
  // RFC 3720 markers: we never use them.
  ['OFMarker', { type: 'fixed', answer: 'No' }],
  ['IFMarker', { type: 'fixed', answer: 'No' }],
  ['OFMarkInt', { type: 'irrelevant' }],
  ['IFMarkInt', { type: 'irrelevant' }],
  // RFC 7144 §13.1: the lower level wins; ours is 1 (RFC 7143).
  ['iSCSIProtocolLevel', { type: 'minConst', ours: 1, lo: 0, hi: 31 }],
  ['TaskReporting', { type: 'fixed', answer: 'RFC3720' }],
]);

/** Keys handled by the login state machine, not by the operational negotiator. */
export const LOGIN_KEYS: ReadonlySet<string> = new Set([
  'InitiatorName', 'InitiatorAlias', 'TargetName', 'TargetAlias', 'SessionType', 'AuthMethod',
  'TargetAddress', 'TargetPortalGroupTag', 'CHAP_A', 'CHAP_I', 'CHAP_C', 'CHAP_N', 'CHAP_R', 'SendTargets',
]);

/** RFC 7143 §6.1: values are at most 255 bytes unless the key says otherwise. */
export const MAX_VALUE_LENGTH = 255;

/** Parses an RFC 7143 §6.1 numerical value (decimal or 0x hex); undefined when invalid. */
export function parseNumber(v: string): number | undefined {
  if (/^[0-9]{1,10}$/.test(v)) return Number(v);
  if (/^0[xX][0-9a-fA-F]{1,8}$/.test(v)) return parseInt(v.slice(2), 16);
  return undefined;
}

function parseBool(v: string): boolean | undefined {
  return v === 'Yes' ? true : v === 'No' ? false : undefined;
}

const yesNo = (b: boolean): string => (b ? 'Yes' : 'No');

export class Negotiator {
  readonly params: SessionParams = rfcDefaults();
  private readonly ours: SessionParams;
  private readonly seen = new Set<string>();

  constructor(ours: SessionParams = TARGET_PREFERENCES) {
    this.ours = ours;
    this.params.targetMaxRecvDataSegmentLength = ours.targetMaxRecvDataSegmentLength;
  }

  /**
   * Answers the initiator's operational keys. Unknown keys get NotUnderstood, bad values
   * Reject, keys that do not apply to a discovery session Irrelevant. A key offered twice
   * in one login is a protocol error (RFC 7143 §6.2).
   */
  respond(pairs: TextPairs, discovery: boolean): TextPairs {
    const answers: TextPairs = [];
    for (const [key, value] of pairs) {
      if (this.seen.has(key)) throw new LoginFailure(LoginStatus.INITIATOR_ERROR, 'DUPLICATE_KEY', `key ${key} negotiated twice`);
      this.seen.add(key);
      answers.push([key, this.answer(key, value, discovery)]);
    }
    this.params.firstBurstLength = Math.min(this.params.firstBurstLength, this.params.maxBurstLength);
    return answers;
  }

  /** True when the initiator has already declared or negotiated `key`. */
  has(key: string): boolean {
    return this.seen.has(key);
  }

  private answer(key: string, value: string, discovery: boolean): string {
    const rule = RULES.get(key);
    if (rule === undefined) return 'NotUnderstood';
    if (value.length > MAX_VALUE_LENGTH) return 'Reject';
    const p = this.params;
    switch (rule.type) {
      case 'digest': {
        const pick = value.split(',').find((v) => v === 'None' || v === 'CRC32C');
        if (pick === undefined) return 'Reject';
        p[rule.param] = pick === 'CRC32C';
        return pick;
      }
      case 'min':
      case 'max': {
        if (discovery && !rule.discovery) return 'Irrelevant';
        const n = parseNumber(value);
        if (n === undefined || n < rule.lo || n > rule.hi) return 'Reject';
        const r = rule.type === 'min' ? Math.min(n, this.ours[rule.param]) : Math.max(n, this.ours[rule.param]);
        p[rule.param] = r;
        return String(r);
      }
      case 'and':
      case 'or': {
        if (discovery && !rule.discovery) return 'Irrelevant';
        const b = parseBool(value);
        if (b === undefined) return 'Reject';
        const r = rule.type === 'and' ? b && this.ours[rule.param] : b || this.ours[rule.param];
        p[rule.param] = r;
        return yesNo(r);
      }
      case 'declare': {
        const n = parseNumber(value);
        if (n === undefined || n < rule.lo || n > rule.hi) return 'Reject';
        p[rule.param] = n;
        // Declarative: the answer is our own declaration of the same key.
        return String(this.ours.targetMaxRecvDataSegmentLength);
      }
      case 'fixed':
        return rule.answer;
      case 'minConst': {
        const n = parseNumber(value);
        if (n === undefined || n < rule.lo || n > rule.hi) return 'Reject';
        return String(Math.min(n, rule.ours));
      }
      case 'irrelevant':
        return 'Irrelevant';
    }
  }
}
