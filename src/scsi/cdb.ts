import { Opcode } from './constants.ts';
import { invalidFieldInCdb, lbaOutOfRange } from './sense.ts';

/** Length of a CDB by its group code (SAM-5 5.2), or 0 for vendor-specific groups. */
export function cdbLength(opcode: number): number {
  switch (opcode >> 5) {
    case 0: return 6;
    case 1: case 2: return 10;
    case 4: return 16;
    case 5: return 12;
    default: return 0;
  }
}

/**
 * Reads a 64-bit LBA. Values past 2^53 cannot be addressed by any device we serve,
 * so they collapse to Infinity and fail the range check like any other bad LBA.
 */
export function readLba64(cdb: Buffer, offset: number): number {
  const hi = cdb.readUInt32BE(offset);
  const lo = cdb.readUInt32BE(offset + 4);
  if (hi >= 0x200000) return Number.POSITIVE_INFINITY;
  return hi * 0x100000000 + lo;
}

/** The address and length of a READ/WRITE/VERIFY style CDB, in blocks. */
export interface BlockRange { lba: number; count: number }

/** Decodes LBA and TRANSFER LENGTH of the 6/10/12/16-byte read and write families. */
export function decodeBlockRange(cdb: Buffer): BlockRange {
  switch (cdbLength(cdb[0])) {
    case 6: {
      const lba = ((cdb[1] & 0x1f) << 16) | (cdb[2] << 8) | cdb[3];
      // READ(6)/WRITE(6): a TRANSFER LENGTH of zero means 256 blocks (SBC-3 5.10).
      return { lba, count: cdb[4] === 0 ? 256 : cdb[4] };
    }
    case 10: return { lba: cdb.readUInt32BE(2), count: cdb.readUInt16BE(7) };
    case 12: return { lba: cdb.readUInt32BE(2), count: cdb.readUInt32BE(6) };
    case 16: return { lba: readLba64(cdb, 2), count: cdb.readUInt32BE(10) };
    default: throw invalidFieldInCdb(0);
  }
}

/**
 * Checks that `[lba, lba + count)` lies inside a device of `blockCount` blocks. A
 * zero-length range may start at the end of the device (libiscsi's UNMAP tests send
 * one), but not past it.
 */
export function checkRange(lba: number, count: number, blockCount: number): void {
  if (lba + count > blockCount) throw lbaOutOfRange();
}

/** Fails with INVALID FIELD IN CDB when any bit of `mask` is set in `cdb[byte]`. */
export function requireClear(cdb: Buffer, byte: number, mask: number): void {
  const bad = cdb[byte] & mask;
  if (bad !== 0) throw invalidFieldInCdb(byte, 31 - Math.clz32(bad));
}

/** Fails when the CDB is shorter than the opcode's length (a transport bug, but never a crash). */
export function requireLength(cdb: Buffer, length: number): void {
  if (cdb.length < length) throw invalidFieldInCdb(0);
}

/** RDPROTECT/WRPROTECT/VRPROTECT (bits 7-5 of byte 1) must be zero without protection information. */
export function requireNoProtection(cdb: Buffer): void {
  if ((cdb[1] & 0xe0) !== 0) throw invalidFieldInCdb(1, 7);
}

/** Cuts data-in to the allocation length without copying. */
export function cutTo(data: Buffer, allocationLength: number): Buffer {
  return data.length > allocationLength ? data.subarray(0, allocationLength) : data;
}

/** CDB lengths of the opcodes in the READ/WRITE family, for the transfer-length cap. */
export const READ_WRITE_OPCODES: ReadonlySet<number> = new Set<number>([
  Opcode.READ_6, Opcode.READ_10, Opcode.READ_12, Opcode.READ_16,
  Opcode.WRITE_6, Opcode.WRITE_10, Opcode.WRITE_12, Opcode.WRITE_16,
]);
