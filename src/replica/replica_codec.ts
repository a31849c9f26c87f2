import {
  HeaderOffset, REPLICA_HEADER_LENGTH, REPLICA_MAGIC, REPLICA_MAX_ERROR_MESSAGE, REPLICA_MAX_VOLUME_NAME,
  REPLICA_PROTOCOL_VERSION, REPLY_BIT, ReplicaFlag, ReplicaOp, ReplicaStatus, opName, type FrameHeader,
} from './replica_protocol.ts';
import { ReplicaProtocolError } from './replica_errors.ts';
import { REPLICA_AUTH_NONCE_BYTES, REPLICA_AUTH_PROOF_BYTES } from './replica_auth.ts';

/**
 * Pure encoding and decoding of replica protocol frames. Knows nothing of sockets:
 * the framer cuts a byte stream into (header, payload) pairs and these functions give
 * them meaning. Per-op use of the header's generic fields is tabled in
 * docs/replica-protocol.md.
 */

const TWO_32 = 0x1_0000_0000;

export type ReplicaRequest =
  /** `proof`: the client's token proof (replica_auth.ts), zeros from a client without a token. */
  | { op: typeof ReplicaOp.HELLO; id: number; version: number; generation: number; volume: string; proof: Buffer }
  | { op: typeof ReplicaOp.AUTH; id: number; clientNonce: Buffer }
  | { op: typeof ReplicaOp.FENCE; id: number; generation: number }
  | { op: typeof ReplicaOp.PING; id: number }
  | { op: typeof ReplicaOp.READ; id: number; lba: number; count: number }
  | { op: typeof ReplicaOp.WRITE; id: number; lba: number; count: number; fua: boolean; data: Buffer }
  | { op: typeof ReplicaOp.FLUSH; id: number }
  | { op: typeof ReplicaOp.UNMAP; id: number; lba: number; count: number }
  | { op: typeof ReplicaOp.MAP_STATUS; id: number; lba: number; count: number };

/** Writes one 32-byte header. The caller sends `payloadLength` bytes right after it. */
export function encodeHeader(
  op: number, flags: number, requestId: number, payloadLength: number,
  arg64: number, arg32: number, status: number,
): Buffer {
  const b = Buffer.allocUnsafe(REPLICA_HEADER_LENGTH);
  encodeHeaderInto(b, 0, op, flags, requestId, payloadLength, arg64, arg32, status);
  return b;
}

/** encodeHeader into `b` at `at` (REPLICA_HEADER_LENGTH bytes), for senders that batch headers in one buffer. */
export function encodeHeaderInto(
  b: Buffer, at: number, op: number, flags: number, requestId: number, payloadLength: number,
  arg64: number, arg32: number, status: number,
): void {
  b.writeUInt32BE(REPLICA_MAGIC, at + HeaderOffset.MAGIC);
  b[at + HeaderOffset.VERSION] = REPLICA_PROTOCOL_VERSION;
  b[at + HeaderOffset.OP] = op;
  b.writeUInt16BE(flags, at + HeaderOffset.FLAGS);
  b.writeUInt32BE(requestId >>> 0, at + HeaderOffset.REQUEST_ID);
  b.writeUInt32BE(payloadLength, at + HeaderOffset.PAYLOAD_LENGTH);
  b.writeUInt32BE(Math.floor(arg64 / TWO_32), at + HeaderOffset.ARG64_HIGH);
  b.writeUInt32BE(arg64 >>> 0, at + HeaderOffset.ARG64_LOW);
  b.writeUInt32BE(arg32 >>> 0, at + HeaderOffset.ARG32);
  b.writeUInt16BE(status, at + HeaderOffset.STATUS);
  b.writeUInt16BE(0, at + HeaderOffset.RESERVED);
}

/** Reads a header whose magic and version the framer has already checked. */
export function decodeHeader(b: Buffer, at: number): FrameHeader {
  return {
    version: b[at + HeaderOffset.VERSION],
    op: b[at + HeaderOffset.OP],
    flags: b.readUInt16BE(at + HeaderOffset.FLAGS),
    requestId: b.readUInt32BE(at + HeaderOffset.REQUEST_ID),
    payloadLength: b.readUInt32BE(at + HeaderOffset.PAYLOAD_LENGTH),
    arg64: b.readUInt32BE(at + HeaderOffset.ARG64_HIGH) * TWO_32 + b.readUInt32BE(at + HeaderOffset.ARG64_LOW),
    arg32: b.readUInt32BE(at + HeaderOffset.ARG32),
    status: b.readUInt16BE(at + HeaderOffset.STATUS),
  };
}

/** Header and payload of one request, ready for the socket (payload is not copied). */
export function encodeRequest(req: ReplicaRequest): [Buffer] | [Buffer, Buffer] {
  switch (req.op) {
    case ReplicaOp.HELLO: {
      const body = Buffer.concat([req.proof, Buffer.from(req.volume, 'utf8')]);
      return [encodeHeader(req.op, 0, req.id, body.length, req.generation, req.version, 0), body];
    }
    case ReplicaOp.AUTH:
      return [encodeHeader(req.op, 0, req.id, req.clientNonce.length, 0, 0, 0), req.clientNonce];
    case ReplicaOp.FENCE:
      return [encodeHeader(req.op, 0, req.id, 0, req.generation, 0, 0)];
    case ReplicaOp.PING:
    case ReplicaOp.FLUSH:
      return [encodeHeader(req.op, 0, req.id, 0, 0, 0, 0)];
    case ReplicaOp.WRITE:
      return [encodeHeader(req.op, req.fua ? ReplicaFlag.FUA : 0, req.id, req.data.length, req.lba, req.count, 0), req.data];
    case ReplicaOp.READ:
    case ReplicaOp.UNMAP:
    case ReplicaOp.MAP_STATUS:
      return [encodeHeader(req.op, 0, req.id, 0, req.lba, req.count, 0)];
  }
}

/** Gives a framed request its meaning; throws ReplicaProtocolError for anything malformed. */
export function decodeRequest(h: FrameHeader, payload: Buffer): ReplicaRequest {
  const id = h.requestId;
  if (h.status !== 0) throw new ReplicaProtocolError(`request ${id} carries a status`);
  const noPayload = (): void => {
    if (payload.length !== 0) throw new ReplicaProtocolError(`${opName(h.op)} request ${id} must not carry a payload`);
  };
  switch (h.op) {
    case ReplicaOp.HELLO: {
      const nameLength = payload.length - REPLICA_AUTH_PROOF_BYTES;
      if (nameLength <= 0 || nameLength > REPLICA_MAX_VOLUME_NAME) {
        throw new ReplicaProtocolError(`HELLO carries a ${REPLICA_AUTH_PROOF_BYTES}-byte proof and a volume name of 1..${REPLICA_MAX_VOLUME_NAME} bytes`);
      }
      const volume = payload.toString('utf8', REPLICA_AUTH_PROOF_BYTES);
      if (volume.includes('\uFFFD') || volume.includes('\0')) throw new ReplicaProtocolError('HELLO volume name is not valid UTF-8');
      return { op: h.op, id, version: h.arg32, generation: h.arg64, volume, proof: Buffer.from(payload.subarray(0, REPLICA_AUTH_PROOF_BYTES)) };
    }
    case ReplicaOp.AUTH:
      if (payload.length !== REPLICA_AUTH_NONCE_BYTES) throw new ReplicaProtocolError(`AUTH carries a nonce of ${REPLICA_AUTH_NONCE_BYTES} bytes, got ${payload.length}`);
      return { op: h.op, id, clientNonce: Buffer.from(payload) };
    case ReplicaOp.FENCE:
      noPayload();
      return { op: h.op, id, generation: h.arg64 };
    case ReplicaOp.PING:
    case ReplicaOp.FLUSH:
      noPayload();
      return { op: h.op, id };
    case ReplicaOp.WRITE:
      if (payload.length === 0 || h.arg32 === 0) throw new ReplicaProtocolError(`WRITE request ${id} carries no data`);
      return { op: h.op, id, lba: h.arg64, count: h.arg32, fua: (h.flags & ReplicaFlag.FUA) !== 0, data: payload };
    case ReplicaOp.READ:
    case ReplicaOp.UNMAP:
    case ReplicaOp.MAP_STATUS:
      noPayload();
      return { op: h.op, id, lba: h.arg64, count: h.arg32 };
    default:
      throw new ReplicaProtocolError(`unknown op ${opName(h.op)} in request ${id}`);
  }
}

/** A success reply: `arg64`, `arg32`, `flags` and payload mean what the op's table row says. */
export function encodeReply(op: number, requestId: number, flags: number, arg64: number, arg32: number, payloadLength: number): Buffer {
  return encodeHeader(op | REPLY_BIT, flags, requestId, payloadLength, arg64, arg32, ReplicaStatus.OK);
}

/** An error reply: the message is capped; `detail` rides in arg64 (e.g. the current generation). */
export function encodeErrorReply(op: number, requestId: number, status: number, message: string, detail = 0): [Buffer, Buffer] {
  let text = Buffer.from(message, 'utf8');
  if (text.length > REPLICA_MAX_ERROR_MESSAGE) text = text.subarray(0, REPLICA_MAX_ERROR_MESSAGE);
  return [encodeHeader(op | REPLY_BIT, 0, requestId, text.length, detail, 0, status), text];
}

export function isReply(h: FrameHeader): boolean {
  return (h.op & REPLY_BIT) !== 0;
}

/** The op a reply answers. */
export function replyOp(h: FrameHeader): number {
  return h.op & ~REPLY_BIT;
}
