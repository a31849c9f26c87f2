/**
 * Shared-secret bearer authentication of Berth's management APIs, the pure part: the
 * token file's format, the Authorization header, the constant-time check and the
 * "deny by default" rule for where an API may listen without a token. No I/O here;
 * node:crypto is used for hashing only. See docs/security.md.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BerthError } from './errors.ts';

/** The flag (and its environment variable) that names the token file everywhere. */
export const AUTH_TOKEN_FLAG = '--auth-token-file';
export const AUTH_TOKEN_ENV = 'BERTH_AUTH_TOKEN_FILE';
export const INSECURE_FLAG = '--insecure-no-auth';
/** The wire code of a refused request, the same on every API. */
export const UNAUTHENTICATED = 'UNAUTHENTICATED';
/** 32 random bytes are 43 characters of base64url or 64 of hex: shorter cannot hold them. */
export const MIN_TOKEN_CHARS = 43;
/** Tokens are read from a file and sent in a header; a longer one is a wrong file. */
export const MAX_TOKEN_CHARS = 1024;
/** One current token, and during rotation the next or the previous one. */
export const MAX_TOKENS = 2;
/** RFC 6750 b64token: what may follow "Bearer " without quoting. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A token file or a listen address the process refuses; the message never holds a token. */
export class AuthConfigError extends BerthError {
  constructor(message: string) {
    super('AUTH_CONFIG', message);
  }
}

/**
 * The token file: one token per line (up to two, for rotation), blank lines and
 * surrounding whitespace ignored. The first line is what this process sends as a client.
 * Errors name the line, never its content.
 */
export function parseTokenFile(text: string): string[] {
  const tokens = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (tokens.length === 0) throw new AuthConfigError('the auth token file is empty');
  if (tokens.length > MAX_TOKENS) throw new AuthConfigError(`the auth token file holds ${tokens.length} tokens; at most ${MAX_TOKENS} (current and next) are allowed`);
  tokens.forEach((t, i) => {
    if (t.length < MIN_TOKEN_CHARS) {
      throw new AuthConfigError(`token ${i + 1} of the auth token file is too short (${t.length} characters; at least ${MIN_TOKEN_CHARS}: generate one with \`openssl rand -hex 32\`)`);
    }
    if (t.length > MAX_TOKEN_CHARS) throw new AuthConfigError(`token ${i + 1} of the auth token file is longer than ${MAX_TOKEN_CHARS} characters`);
    if (!B64TOKEN.test(t)) throw new AuthConfigError(`token ${i + 1} of the auth token file has characters a bearer token cannot carry (use letters, digits and -._~+/)`);
  });
  return tokens;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined for anything else. */
export function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_TOKEN_CHARS + 16) return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m === null ? undefined : m[1];
}

export function bearerHeader(token: string): string {
  return `Bearer ${token}`;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Checks presented tokens against the accepted ones. Both sides are hashed first so
 * the comparison has a fixed length, and every accepted token is compared, so neither
 * the length nor which token matched shows in the time taken.
 */
export class TokenVerifier {
  readonly #accepted: Buffer[];

  constructor(tokens: readonly string[]) {
    if (tokens.length === 0 || tokens.length > MAX_TOKENS) throw new AuthConfigError(`a verifier takes 1 to ${MAX_TOKENS} tokens`);
    this.#accepted = tokens.map(digest);
  }

  verify(presented: string | undefined): boolean {
    const given = digest(presented ?? '');
    let ok = false;
    for (const a of this.#accepted) ok = timingSafeEqual(a, given) || ok;
    return ok && presented !== undefined;
  }

  /** Never the tokens themselves: the object may end up in a log by mistake. */
  toJSON(): string {
    return '[TokenVerifier]';
  }
}

/** 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:127\./.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export type ListenAuthDecision = 'authenticated' | 'loopback-open' | 'insecure-open';

/**
 * Deny by default: an API reachable from other machines needs a token, unless the
 * operator said `--insecure-no-auth` in so many words. `listenFlag` names the flag that
 * set the address, so the error says which two flags are in conflict.
 */
export function decideListenAuth(o: { host: string; listenFlag: string; tokenConfigured: boolean; insecureNoAuth: boolean }): ListenAuthDecision {
  if (o.tokenConfigured) return 'authenticated';
  if (isLoopbackHost(o.host)) return 'loopback-open';
  if (o.insecureNoAuth) return 'insecure-open';
  throw new AuthConfigError(
    `${o.listenFlag} ${o.host} is not a loopback address and no token is configured: pass ${AUTH_TOKEN_FLAG} PATH `
    + `(or set ${AUTH_TOKEN_ENV}), or ${INSECURE_FLAG} to serve the API to the network without authentication`,
  );
}
