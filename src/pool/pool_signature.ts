/**
 * What the first bytes of a device or file say it already holds, so pool create never
 * formats over data by accident. Pure: give it the start of the target (PROBE_BYTES, or
 * less for a shorter file). Signatures at the end of a device (md 1.0 metadata, a GPT
 * backup header) are not looked for: the primary structures of those sit at the start.
 */
export const PROBE_BYTES = 68 * 1024;

export interface Signature {
  /** Short name for errors: "ext4 filesystem", "GPT partition table", … */
  what: string;
  offset: number;
}

interface Rule {
  what: string;
  offset: number;
  bytes: Buffer;
}

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Magic numbers, by where their format puts them. Order matters: the first match names the target. */
const RULES: Rule[] = [
  { what: 'Berth pool', offset: 0, bytes: ascii('BERTHPOL') },
  { what: 'Berth pool (backup superblock)', offset: 4096, bytes: ascii('BERTHPOL') },
  { what: 'LUKS encrypted volume', offset: 0, bytes: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]) },
  { what: 'xfs filesystem', offset: 0, bytes: ascii('XFSB') },
  { what: 'LVM2 physical volume', offset: 512 + 24, bytes: ascii('LVM2 001') },
  { what: 'LVM2 physical volume', offset: 24, bytes: ascii('LVM2 001') },
  { what: 'GPT partition table', offset: 512, bytes: ascii('EFI PART') },
  { what: 'GPT partition table', offset: 4096, bytes: ascii('EFI PART') },
  { what: 'swap space', offset: 4096 - 10, bytes: ascii('SWAPSPACE2') },
  { what: 'swap space', offset: 4096 - 10, bytes: ascii('SWAP-SPACE') },
  { what: 'btrfs filesystem', offset: 65536 + 64, bytes: ascii('_BHRfS_M') },
  { what: 'ISO 9660 filesystem', offset: 32769, bytes: ascii('CD001') },
  { what: 'bcache device', offset: 4096 + 24, bytes: Buffer.from('c68573f64e1a45ca8265f57f48ba6d81', 'hex') },
  { what: 'Linux RAID (md 1.1) member', offset: 0, bytes: Buffer.from([0xfc, 0x4e, 0x2b, 0xa9]) },
  { what: 'Linux RAID (md 1.2) member', offset: 4096, bytes: Buffer.from([0xfc, 0x4e, 0x2b, 0xa9]) },
];

/** ext2/3/4 keep their superblock at 1024; the magic 0xEF53 sits 56 bytes in. */
function extFilesystem(buf: Buffer): Signature | null {
  if (buf.length < 1024 + 100 || buf.readUInt16LE(1024 + 56) !== 0xef53) return null;
  const compat = buf.readUInt32LE(1024 + 92);
  const incompat = buf.readUInt32LE(1024 + 96);
  // Extents (0x40) or 64-bit (0x80) mean ext4; a journal (compat 0x4) means ext3.
  const what = (incompat & 0xc0) !== 0 ? 'ext4' : (compat & 0x4) !== 0 ? 'ext3' : 'ext2';
  return { what: `${what} filesystem`, offset: 1024 };
}

/** An MBR (or a FAT boot sector, which carries the same 0x55AA mark). */
function dosBootSector(buf: Buffer): Signature | null {
  if (buf.length < 512 || buf[510] !== 0x55 || buf[511] !== 0xaa) return null;
  if (buf.toString('latin1', 82, 87) === 'FAT32' || buf.toString('latin1', 54, 57) === 'FAT') return { what: 'FAT filesystem', offset: 0 };
  return { what: 'DOS/MBR partition table', offset: 510 };
}

/** The first known signature in `buf` (the start of the target), or null. */
export function findSignature(buf: Buffer): Signature | null {
  for (const r of RULES) {
    if (buf.length >= r.offset + r.bytes.length && buf.subarray(r.offset, r.offset + r.bytes.length).equals(r.bytes)) {
      return { what: r.what, offset: r.offset };
    }
  }
  return extFilesystem(buf) ?? dosBootSector(buf);
}

/** Offset of the first non-zero byte, or -1 when `buf` is all zeros. */
export function firstNonZero(buf: Buffer): number {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return i;
  return -1;
}

/**
 * Why a target must not be formatted without force, or null when its start is all zeros.
 * A known signature is named; anything else non-zero is "data".
 */
export function describeContents(buf: Buffer): string | null {
  const sig = findSignature(buf);
  if (sig !== null) return `it holds a ${sig.what} (signature at byte ${sig.offset})`;
  const at = firstNonZero(buf);
  return at < 0 ? null : `it is not empty (non-zero data at byte ${at})`;
}
