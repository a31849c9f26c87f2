/**
 * Constants of the Berth replica protocol (docs/replica-protocol.md is the reference).
 * A frame is a fixed 32-byte header followed by `payloadLength` bytes. Every number is
 * big-endian. The first five bytes (magic, version) keep their place in every future
 * version so that two peers of different versions can still tell each other so.
 */

/** 'BRRP': Berth Replica Protocol. */
export const REPLICA_MAGIC = 0x42525250;
/** 2: AUTH and the proof in HELLO (token authentication, docs/replica-protocol.md). */
export const REPLICA_PROTOCOL_VERSION = 2;
export const REPLICA_HEADER_LENGTH = 32;
/** Default cap on one frame's payload: a 16 MiB I/O plus room, checked before any allocation. */
export const REPLICA_MAX_PAYLOAD_DEFAULT = 16 * 1024 * 1024 + 4096;
/** Volume names in HELLO are 1..255 bytes of UTF-8. */
export const REPLICA_MAX_VOLUME_NAME = 255;
/** Error replies carry a human message of at most this many bytes. */
export const REPLICA_MAX_ERROR_MESSAGE = 512;

/** Header field offsets. */
export const HeaderOffset = {
  MAGIC: 0, // u32
  VERSION: 4, // u8
  OP: 5, // u8; replies set REPLY_BIT
  FLAGS: 6, // u16
  REQUEST_ID: 8, // u32
  PAYLOAD_LENGTH: 12, // u32
  ARG64_HIGH: 16, // u32: upper half of the 64-bit argument (lba, generation, block count)
  ARG64_LOW: 20, // u32
  ARG32: 24, // u32: block count, version or block size depending on the op
  STATUS: 28, // u16: 0 in requests; a ReplicaStatus in replies
  RESERVED: 30, // u16: zero
} as const;

export const ReplicaOp = {
  HELLO: 0x01,
  FENCE: 0x02,
  PING: 0x03,
  /** Version 2: the token handshake (replica_auth.ts); before HELLO. */
  AUTH: 0x04,
  READ: 0x10,
  WRITE: 0x11,
  FLUSH: 0x12,
  UNMAP: 0x13,
  MAP_STATUS: 0x14,
} as const;
export type ReplicaOpCode = (typeof ReplicaOp)[keyof typeof ReplicaOp];

export const REPLY_BIT = 0x80;

export const ReplicaFlag = {
  /** WRITE: make the data durable against power loss before replying. */
  FUA: 0x0001,
  /** MAP_STATUS reply: the run is mapped. HELLO reply: the device is thin. */
  MAPPED: 0x0002,
  THIN: 0x0004,
} as const;

/** Reply status codes. Stable on the wire: never renumber, only add. */
export const ReplicaStatus = {
  OK: 0,
  NO_SPACE: 1,
  OUT_OF_RANGE: 2,
  MEDIUM_ERROR: 3,
  STALE_GENERATION: 4,
  VERSION_MISMATCH: 5,
  NOT_FOUND: 6,
  INVALID_REQUEST: 7,
  DEVICE_GONE: 8,
  /** Version 2: the peer did not prove it holds the cluster token. */
  UNAUTHENTICATED: 9,
  INTERNAL: 255,
} as const;
export type ReplicaStatusCode = (typeof ReplicaStatus)[keyof typeof ReplicaStatus];

const OP_NAMES = new Map<number, string>(Object.entries(ReplicaOp).map(([k, v]) => [v, k]));
export function opName(op: number): string {
  return OP_NAMES.get(op & ~REPLY_BIT) ?? `0x${op.toString(16)}`;
}
export function isKnownOp(op: number): op is ReplicaOpCode {
  return OP_NAMES.has(op);
}

const STATUS_NAMES = new Map<number, string>(Object.entries(ReplicaStatus).map(([k, v]) => [v, k]));
export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `STATUS_${status}`;
}

/** The decoded fixed header of one frame. */
export interface FrameHeader {
  version: number;
  op: number;
  flags: number;
  requestId: number;
  payloadLength: number;
  /** The 64-bit argument, safe up to 2^53. */
  arg64: number;
  arg32: number;
  status: number;
}
