/**
 * Mutual authentication of the replica protocol (version 2), the pure part: both ends
 * prove they hold the cluster's shared token (the engines' `--auth-token-file`) without
 * it ever crossing the wire. The client sends AUTH with a random nonce; the server
 * answers its own nonce and an HMAC over both nonces (it proves itself first); the
 * client checks that, then sends its own HMAC over both nonces in HELLO. The two proofs
 * use different labels, so one side's proof can never be replayed as the other's, and
 * fresh nonces on both sides keep a recorded exchange from being replayed later.
 * docs/replica-protocol.md, "Authentication". No I/O here: nonces come from the caller.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BerthError } from '../util/errors.ts';

export const REPLICA_AUTH_NONCE_BYTES = 32;
export const REPLICA_AUTH_PROOF_BYTES = 32;
/** AUTH reply payload: the server's nonce, then its proof. */
export const REPLICA_AUTH_REPLY_BYTES = REPLICA_AUTH_NONCE_BYTES + REPLICA_AUTH_PROOF_BYTES;

const SERVER_LABEL = 'berth-replica-v2 server proof';
const CLIENT_LABEL = 'berth-replica-v2 client proof';

/** A peer failed (or could not take part in) the token handshake. */
export class ReplicaAuthError extends BerthError {
  constructor(message: string) { super('REPLICA_UNAUTHENTICATED', message); }
}

/**
 * The tokens one engine holds: the first is what it proves itself with, every one is
 * accepted from a peer (so a token can be rotated one engine at a time).
 */
export class ReplicaAuthKeys {
  readonly #tokens: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    if (tokens.length === 0) throw new ReplicaAuthError('replica authentication needs at least one token');
    this.#tokens = tokens.map((t) => Buffer.from(t, 'utf8'));
  }

  /** What the server sends in its AUTH reply. */
  serverProof(clientNonce: Buffer, serverNonce: Buffer): Buffer {
    return proof(this.#tokens[0], SERVER_LABEL, clientNonce, serverNonce);
  }

  /** What the client sends in HELLO. */
  clientProof(clientNonce: Buffer, serverNonce: Buffer): Buffer {
    return proof(this.#tokens[0], CLIENT_LABEL, clientNonce, serverNonce);
  }

  /** Does the server's proof come from a holder of one of our tokens? */
  acceptsServer(clientNonce: Buffer, serverNonce: Buffer, given: Buffer): boolean {
    return this.#accepts(SERVER_LABEL, clientNonce, serverNonce, given);
  }

  acceptsClient(clientNonce: Buffer, serverNonce: Buffer, given: Buffer): boolean {
    return this.#accepts(CLIENT_LABEL, clientNonce, serverNonce, given);
  }

  /** Every token is compared, so the time taken does not tell which one matched. */
  #accepts(label: string, clientNonce: Buffer, serverNonce: Buffer, given: Buffer): boolean {
    if (given.length !== REPLICA_AUTH_PROOF_BYTES) return false;
    let ok = false;
    for (const t of this.#tokens) ok = timingSafeEqual(proof(t, label, clientNonce, serverNonce), given) || ok;
    return ok;
  }

  /** Never the tokens: the object may end up in a log by mistake. */
  toJSON(): string {
    return '[ReplicaAuthKeys]';
  }
}

function proof(token: Buffer, label: string, clientNonce: Buffer, serverNonce: Buffer): Buffer {
  if (clientNonce.length !== REPLICA_AUTH_NONCE_BYTES || serverNonce.length !== REPLICA_AUTH_NONCE_BYTES) {
    throw new ReplicaAuthError(`nonces must be ${REPLICA_AUTH_NONCE_BYTES} bytes`);
  }
  return createHmac('sha256', token).update(label).update(clientNonce).update(serverNonce).digest();
}

/** The AUTH reply's payload. */
export function encodeAuthReply(serverNonce: Buffer, serverProof: Buffer): Buffer {
  return Buffer.concat([serverNonce, serverProof]);
}

export function decodeAuthReply(payload: Buffer): { serverNonce: Buffer; serverProof: Buffer } {
  if (payload.length !== REPLICA_AUTH_REPLY_BYTES) throw new ReplicaAuthError(`AUTH reply must carry ${REPLICA_AUTH_REPLY_BYTES} bytes, got ${payload.length}`);
  return { serverNonce: payload.subarray(0, REPLICA_AUTH_NONCE_BYTES), serverProof: payload.subarray(REPLICA_AUTH_NONCE_BYTES) };
}

/** HELLO's proof field when the client has no token (a server without one ignores it). */
export const NO_PROOF: Buffer = Buffer.alloc(REPLICA_AUTH_PROOF_BYTES);
