/** Test helpers: FUSE messages as the kernel writes them into a read buffer. */
import { IN_HEADER_BYTES } from './fuse_codec.ts';

/** A request with header (`nodeid` 1 unless given) and body: the buffer and the read's length. */
export function fuseMessage(opcode: number, unique: bigint, body: Buffer, nodeid = 1n): [Buffer, number] {
  const n = IN_HEADER_BYTES + body.length;
  const buf = Buffer.alloc(n);
  buf.writeUInt32LE(n, 0);
  buf.writeUInt32LE(opcode, 4);
  buf.writeBigUInt64LE(unique, 8);
  buf.writeBigUInt64LE(nodeid, 16);
  body.copy(buf, IN_HEADER_BYTES);
  return [buf, n];
}

export function readBody(offset: number, size: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(BigInt(offset), 8);
  b.writeUInt32LE(size, 16);
  return b;
}

export function writeBody(offset: number, data: Buffer): Buffer {
  const b = Buffer.alloc(40 + data.length);
  b.writeBigUInt64LE(BigInt(offset), 8);
  b.writeUInt32LE(data.length, 16);
  data.copy(b, 40);
  return b;
}

export function fallocateBody(offset: number, length: number, mode: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeBigUInt64LE(BigInt(offset), 8);
  b.writeBigUInt64LE(BigInt(length), 16);
  b.writeUInt32LE(mode, 24);
  return b;
}
