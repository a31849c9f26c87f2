/** What the crash workload, its verifier and the test agree on. */
import type { PoolCreateOptions } from '../../src/pool/index.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

export function crashPoolOptions(): PoolCreateOptions {
  // Small extents and a tiny journal: many allocations, frees and checkpoint rollovers.
  return { name: 'crash', sizeBytes: 48 * MiB, extentSize: 64 * KiB, journalBytes: 32 * KiB };
}

export const STABLE_VOLUMES = [
  { name: 'a', sizeBytes: 6 * MiB, blockSize: 512 as const },
  { name: 'b', sizeBytes: 6 * MiB, blockSize: 4096 as const },
];
export const CHURN_VOLUME = { name: 'c', sizeBytes: 4 * MiB, blockSize: 512 as const };

/** Block contents for version `ver`: every 512-byte sector starts with ver, rest its low byte. */
export function blockPattern(blockSize: number, ver: number): Buffer {
  const b = Buffer.alloc(blockSize, (ver % 251) + 1);
  for (let o = 0; o < blockSize; o += 512) b.writeUInt32LE(ver, o);
  return b;
}

/** The version a block holds: 0 for zeros, -1 for anything that is no whole version. */
const ZEROS = Buffer.alloc(4096);

export function blockVersion(block: Buffer): number {
  if (block.equals(ZEROS.subarray(0, block.length))) return 0;
  const ver = block.readUInt32LE(0);
  return block.equals(blockPattern(block.length, ver)) ? ver : -1;
}
