import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LoginStatus } from './constants.ts';
import { LoginFailure } from './errors.ts';
import type { TextPairs } from './text.ts';

/**
 * CHAP for iSCSI login (RFC 7143 §12.1.3, RFC 1994) with MD5 (CHAP_A=5), one-way and
 * mutual. Failure messages never contain secrets, responses or challenges.
 */
export interface ChapConfig {
  user: string;
  secret: string;
  mutualUser?: string;
  mutualSecret?: string;
}

export const CHAP_ALGORITHM_MD5 = '5';
const CHALLENGE_LENGTH = 16;
/** A challenge longer than this is refused, which bounds the hashing work per login. */
const MAX_BINARY_LENGTH = 1024;

/** RFC 1994: response = MD5(identifier || secret || challenge). */
export function chapResponse(id: number, secret: string, challenge: Buffer): Buffer {
  return createHash('md5').update(Buffer.of(id & 0xff)).update(secret, 'utf8').update(challenge).digest();
}

/** RFC 7143 §6.1 binary values: 0x… hex or 0b… base64. */
export function decodeBinary(v: string): Buffer | undefined {
  if (/^0[xX]([0-9a-fA-F]{2})+$/.test(v)) return Buffer.from(v.slice(2), 'hex');
  if (/^0[xX][0-9a-fA-F]+$/.test(v)) return Buffer.from(`0${v.slice(2)}`, 'hex');
  if (/^0[bB][A-Za-z0-9+/]+=*$/.test(v)) return Buffer.from(v.slice(2), 'base64');
  return undefined;
}

export function encodeHex(b: Buffer): string {
  return `0x${b.toString('hex')}`;
}

function fail(code: string, message: string): LoginFailure {
  return new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, code, message);
}

/** The target side of one CHAP exchange. */
export class ChapAuthenticator {
  private readonly cfg: ChapConfig;
  private readonly id: number;
  private readonly challenge: Buffer;
  private started = false;

  constructor(cfg: ChapConfig, random: (n: number) => Buffer = randomBytes) {
    this.cfg = cfg;
    this.id = random(1)[0];
    this.challenge = random(CHALLENGE_LENGTH);
  }

  /** Answers CHAP_A with our algorithm choice, identifier and challenge. */
  start(offered: string | undefined): TextPairs {
    if (offered === undefined) throw fail('CHAP_MISSING_ALGORITHM', 'CHAP_A missing');
    if (!offered.split(',').includes(CHAP_ALGORITHM_MD5)) throw fail('CHAP_ALGORITHM', 'initiator offers no CHAP algorithm we support (MD5)');
    this.started = true;
    return [['CHAP_A', CHAP_ALGORITHM_MD5], ['CHAP_I', String(this.id)], ['CHAP_C', encodeHex(this.challenge)]];
  }

  /**
   * Checks CHAP_N/CHAP_R; when the initiator sent CHAP_I/CHAP_C (mutual), returns our
   * CHAP_N/CHAP_R. Throws LoginFailure 02/01 on any mismatch.
   */
  verify(keys: ReadonlyMap<string, string>): TextPairs {
    if (!this.started) throw fail('CHAP_OUT_OF_ORDER', 'CHAP_R before CHAP_A');
    const name = keys.get('CHAP_N');
    const resp = keys.get('CHAP_R');
    if (name === undefined || resp === undefined) throw fail('CHAP_MISSING_RESPONSE', 'CHAP_N or CHAP_R missing');
    const got = resp.length <= 2 * MAX_BINARY_LENGTH + 2 ? decodeBinary(resp) : undefined;
    const want = chapResponse(this.id, this.cfg.secret, this.challenge);
    if (name !== this.cfg.user || got === undefined || got.length !== want.length || !timingSafeEqual(got, want)) {
      throw fail('CHAP_BAD_RESPONSE', 'CHAP user or response does not match');
    }
    const mi = keys.get('CHAP_I');
    const mc = keys.get('CHAP_C');
    if (mi === undefined && mc === undefined) return [];
    if (mi === undefined || mc === undefined) throw fail('CHAP_MUTUAL_INCOMPLETE', 'mutual CHAP needs both CHAP_I and CHAP_C');
    if (this.cfg.mutualUser === undefined || this.cfg.mutualSecret === undefined) {
      throw fail('CHAP_MUTUAL_NOT_CONFIGURED', 'initiator asks for mutual CHAP but the target has no mutual credentials');
    }
    const id = /^[0-9]{1,3}$/.test(mi) ? Number(mi) : NaN;
    const challenge = mc.length <= 2 * MAX_BINARY_LENGTH + 2 ? decodeBinary(mc) : undefined;
    if (!(id >= 0 && id <= 255) || challenge === undefined || challenge.length === 0) {
      throw fail('CHAP_MUTUAL_MALFORMED', 'malformed CHAP_I or CHAP_C');
    }
    // A reflected challenge would let an attacker use us as an oracle for our own secret.
    if (challenge.equals(this.challenge)) throw fail('CHAP_REFLECTION', 'initiator reflected our challenge');
    return [['CHAP_N', this.cfg.mutualUser], ['CHAP_R', encodeHex(chapResponse(id, this.cfg.mutualSecret, challenge))]];
  }
}
