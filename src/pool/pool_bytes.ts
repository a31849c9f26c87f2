/** Little-endian helpers shared by the pool's metadata codecs. */

const TWO_32 = 0x1_0000_0000;

/** Writes a non-negative integer below 2^53 as an unsigned 64-bit little-endian value. */
export function writeU64(buf: Buffer, off: number, value: number): void {
  buf.writeUInt32LE(value % TWO_32, off);
  buf.writeUInt32LE(Math.floor(value / TWO_32), off + 4);
}

/** Reads an unsigned 64-bit value; values past 2^53 come back as NaN so callers reject them. */
export function readU64(buf: Buffer, off: number): number {
  const hi = buf.readUInt32LE(off + 4);
  if (hi >= 0x20_0000) return Number.NaN;
  return hi * TWO_32 + buf.readUInt32LE(off);
}

/** 16 raw bytes from a canonical UUID string. */
export function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

export function bytesToUuid(buf: Buffer, off: number): string {
  const h = buf.toString('hex', off, off + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const NAME_MAX_BYTES = 64;
const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_RE.test(name);
}
