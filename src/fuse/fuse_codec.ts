/**
 * The FUSE kernel protocol (include/uapi/linux/fuse.h), as far as a single-file export
 * needs it: the root node is the file, and the kernel asks for its attributes, opens it,
 * reads, writes, syncs and punches holes in it. Pure: buffers in, records and buffers out.
 *
 * Layouts are little-endian on every architecture Linux runs FUSE on that we build for
 * (x86-64, arm64); the kernel writes them in host order.
 */
import { BerthError } from '../util/errors.ts';

/** The request header (struct fuse_in_header) and the reply header (struct fuse_out_header). */
export const IN_HEADER_BYTES = 40;
export const OUT_HEADER_BYTES = 16;

export const FuseOp = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17,
  RELEASE: 18, FSYNC: 20, FLUSH: 25, INIT: 26, OPENDIR: 27, INTERRUPT: 36, DESTROY: 38,
  BATCH_FORGET: 42, FALLOCATE: 43, LSEEK: 46,
} as const;

/** Linux errno values a reply may carry (negated on the wire). */
export const Errno = {
  EPERM: 1, ENOENT: 2, EIO: 5, EAGAIN: 11, EACCES: 13, EFBIG: 27, ENOSPC: 28, EROFS: 30,
  ENOTDIR: 20, EINVAL: 22, ENOSYS: 38, EPROTO: 71, EOPNOTSUPP: 95,
} as const;

/** INIT flags (fuse_init_in.flags / fuse_init_out.flags) this export asks for. */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  BIG_WRITES: 1 << 5,
  ASYNC_DIO: 1 << 15,
  MAX_PAGES: 1 << 22,
} as const;

/** The oldest protocol minor we speak: max_pages in the INIT reply arrived in 7.28 (Linux 4.20). */
export const MIN_KERNEL_MINOR = 28;
/** The minor we answer with; the kernel uses the lower of its own and this. */
export const OUR_MINOR = 31;

export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;

export const FALLOC_KEEP_SIZE = 0x01;
export const FALLOC_PUNCH_HOLE = 0x02;
export const FALLOC_ZERO_RANGE = 0x10;

export const FSYNC_DATASYNC = 1;

/** A request the kernel should never send, or sent short: the export answers EIO (or EPROTO at INIT). */
export class FuseProtocolError extends BerthError {
  constructor(message: string) { super('FUSE_PROTOCOL', message); }
}

export interface FuseHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
}

export type FuseRequest =
  | { op: 'init'; h: FuseHeader; major: number; minor: number; maxReadahead: number; flags: number }
  | { op: 'read'; h: FuseHeader; offset: number; size: number }
  | { op: 'write'; h: FuseHeader; offset: number; data: Buffer }
  | { op: 'fsync'; h: FuseHeader; datasync: boolean }
  | { op: 'setattr'; h: FuseHeader; valid: number; size: number }
  | { op: 'fallocate'; h: FuseHeader; offset: number; length: number; mode: number }
  | { op: 'noreply'; h: FuseHeader }
  | { op: 'other'; h: FuseHeader };

/** Offsets and lengths past 2^53 are not ones a block device of ours has; refuse them. */
function u64(buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FuseProtocolError(`${what} ${v} is past 2^53`);
  return Number(v);
}

function need(body: Buffer, bytes: number, what: string): void {
  if (body.length < bytes) throw new FuseProtocolError(`${what} body is ${body.length} bytes, wants ${bytes}`);
}

/** The header of one message as read from /dev/fuse (`n` bytes of `buf`). */
export function parseHeader(buf: Buffer, n: number): FuseHeader {
  if (n < IN_HEADER_BYTES || buf.length < n) throw new FuseProtocolError(`a request of ${n} bytes is shorter than its header`);
  const len = buf.readUInt32LE(0);
  if (len !== n) throw new FuseProtocolError(`the header says ${len} bytes, the read gave ${n}`);
  return { len, opcode: buf.readUInt32LE(4), unique: buf.readBigUInt64LE(8), nodeid: buf.readBigUInt64LE(16) };
}

/**
 * One request. The write's data is a view of `buf`: the caller copies it before `buf`
 * is reused. Throws FuseProtocolError (with the header still known to the caller via
 * parseHeader) for a body too short for its opcode.
 */
export function parseRequest(buf: Buffer, n: number): FuseRequest {
  const h = parseHeader(buf, n);
  const body = buf.subarray(IN_HEADER_BYTES, n);
  switch (h.opcode) {
    case FuseOp.INIT:
      need(body, 16, 'INIT');
      return { op: 'init', h, major: body.readUInt32LE(0), minor: body.readUInt32LE(4), maxReadahead: body.readUInt32LE(8), flags: body.readUInt32LE(12) };
    case FuseOp.READ:
      need(body, 24, 'READ');
      return { op: 'read', h, offset: u64(body, 8, 'READ offset'), size: body.readUInt32LE(16) };
    case FuseOp.WRITE: {
      need(body, 40, 'WRITE');
      const size = body.readUInt32LE(16);
      need(body, 40 + size, 'WRITE with its data');
      return { op: 'write', h, offset: u64(body, 8, 'WRITE offset'), data: body.subarray(40, 40 + size) };
    }
    case FuseOp.FSYNC:
      need(body, 16, 'FSYNC');
      return { op: 'fsync', h, datasync: (body.readUInt32LE(8) & FSYNC_DATASYNC) !== 0 };
    case FuseOp.SETATTR:
      need(body, 24, 'SETATTR');
      return { op: 'setattr', h, valid: body.readUInt32LE(0), size: u64(body, 16, 'SETATTR size') };
    case FuseOp.FALLOCATE:
      need(body, 32, 'FALLOCATE');
      return { op: 'fallocate', h, offset: u64(body, 8, 'FALLOCATE offset'), length: u64(body, 16, 'FALLOCATE length'), mode: body.readUInt32LE(24) };
    case FuseOp.FORGET:
    case FuseOp.BATCH_FORGET:
    case FuseOp.INTERRUPT:
      return { op: 'noreply', h };
    default:
      return { op: 'other', h };
  }
}

/** A reply: the header and, after it, `bodyBytes` of body the caller fills (or has filled). */
export function replyHeader(unique: bigint, errno: number, bodyBytes: number, into?: Buffer): Buffer {
  const out = into ?? Buffer.alloc(OUT_HEADER_BYTES + bodyBytes);
  out.writeUInt32LE(OUT_HEADER_BYTES + bodyBytes, 0);
  out.writeInt32LE(-errno, 4);
  out.writeBigUInt64LE(unique, 8);
  return out;
}

export function errorReply(unique: bigint, errno: number): Buffer {
  return replyHeader(unique, errno, 0);
}

/** fuse_notify_code FUSE_NOTIFY_RESEND (Linux 6.9). */
export const NOTIFY_RESEND = 7;
/** FUSE_UNIQUE_RESEND: the kernel marks a request it sends again with this bit of `unique`. */
export const UNIQUE_RESEND_BIT = 1n << 63n;

/**
 * The notification that asks the kernel to send again every request a server has read
 * and not answered: a header with `unique` 0 and the notify code where a reply's error
 * goes. A server that takes over a connection from a dead one sends it first.
 */
export function notifyResend(): Buffer {
  const out = Buffer.alloc(OUT_HEADER_BYTES);
  out.writeUInt32LE(OUT_HEADER_BYTES, 0);
  out.writeInt32LE(NOTIFY_RESEND, 4);
  return out;
}

export interface InitAnswer {
  /** Largest WRITE the kernel may send (bytes); the read buffer must hold it plus headers. */
  maxWrite: number;
  maxReadahead: number;
}

/**
 * The INIT reply (struct fuse_init_out, 64 bytes at minor ≥ 23). A kernel of another
 * major version, or older than MIN_KERNEL_MINOR, gets EPROTO: the mount then fails
 * its first access rather than misreading our layouts.
 */
export function initReply(req: Extract<FuseRequest, { op: 'init' }>, ans: InitAnswer): Buffer {
  if (req.major !== 7 || req.minor < MIN_KERNEL_MINOR) return errorReply(req.h.unique, Errno.EPROTO);
  const out = replyHeader(req.h.unique, 0, 64);
  const b = out.subarray(OUT_HEADER_BYTES);
  const want = InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.ASYNC_DIO | InitFlag.MAX_PAGES;
  b.writeUInt32LE(7, 0);
  b.writeUInt32LE(Math.min(OUR_MINOR, req.minor), 4);
  b.writeUInt32LE(Math.min(req.maxReadahead, ans.maxReadahead), 8);
  b.writeUInt32LE(req.flags & want, 12);
  b.writeUInt16LE(16, 16); // max_background
  b.writeUInt16LE(12, 18); // congestion_threshold
  b.writeUInt32LE(ans.maxWrite, 20);
  b.writeUInt32LE(1, 24); // time_gran: 1 ns
  b.writeUInt16LE(Math.ceil(ans.maxWrite / 4096), 28); // max_pages
  return out;
}

export interface FileAttr {
  size: number;
  /** Permission bits of the regular file (the type bits are added). */
  mode: number;
  blockSize: number;
  /** Seconds the kernel may cache the attributes: the size can change (resize). */
  validSeconds: number;
}

const S_IFREG = 0o100000;

/** struct fuse_attr_out for the one file (node 1); used by GETATTR and SETATTR. */
export function attrReply(unique: bigint, a: FileAttr): Buffer {
  const out = replyHeader(unique, 0, 104);
  const b = out.subarray(OUT_HEADER_BYTES);
  b.writeBigUInt64LE(BigInt(a.validSeconds), 0);
  const at = 16;
  b.writeBigUInt64LE(1n, at); // ino
  b.writeBigUInt64LE(BigInt(a.size), at + 8);
  b.writeBigUInt64LE(BigInt(Math.ceil(a.size / 512)), at + 16);
  b.writeUInt32LE(S_IFREG | (a.mode & 0o7777), at + 60);
  b.writeUInt32LE(1, at + 64); // nlink
  b.writeUInt32LE(a.blockSize, at + 80);
  return out;
}

/** struct fuse_open_out: one handle for every open, and no page-cache flags (the kernel's defaults, as qemu's export). */
export function openReply(unique: bigint): Buffer {
  const out = replyHeader(unique, 0, 16);
  out.writeBigUInt64LE(1n, OUT_HEADER_BYTES);
  return out;
}

export function writeReply(unique: bigint, written: number): Buffer {
  const out = replyHeader(unique, 0, 8);
  out.writeUInt32LE(written, OUT_HEADER_BYTES);
  return out;
}

/** struct fuse_kstatfs for `statfs` on the file: its size as the filesystem's. */
export function statfsReply(unique: bigint, sizeBytes: number, blockSize: number): Buffer {
  const out = replyHeader(unique, 0, 80);
  const b = out.subarray(OUT_HEADER_BYTES);
  b.writeBigUInt64LE(BigInt(Math.floor(sizeBytes / blockSize)), 0);
  b.writeUInt32LE(blockSize, 40); // bsize
  b.writeUInt32LE(255, 44); // namelen
  b.writeUInt32LE(blockSize, 48); // frsize
  return out;
}
