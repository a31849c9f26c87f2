/** What the crash workload, its verifier and the test agree on. */
import type { Pool, PoolCreateOptions } from '../../src/pool/index.ts';
import { setDefaultOwnership } from '../../src/pool/pool_owner.ts';

// Worker and checker both import this: a 20 ms heartbeat makes each import's claim settle
// in 40 ms instead of 2 s (the killed worker's pid is gone, so no wait beyond that).
setDefaultOwnership({ intervalMs: 20 });

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

const ZEROS = Buffer.alloc(4096);

/** The version a block holds: 0 for zeros, -1 for anything that is no whole version. */
export function blockVersion(block: Buffer): number {
  if (block.equals(ZEROS.subarray(0, block.length))) return 0;
  const ver = block.readUInt32LE(0);
  return block.equals(blockPattern(block.length, ver)) ? ver : -1;
}

export interface Observed {
  problems: string[];
  usedBytes: number;
  allocatedBytes: number;
  volumes: Record<string, { blockSize: number; state: string; versions: number[] }>;
}

/** What a freshly imported pool holds: fsck (reading every free extent) and every block's version. */
export async function observe(pool: Pool): Promise<Observed> {
  const report = await pool.verify({ checkFreeZeroed: true });
  const volumes: Observed['volumes'] = {};
  for (const info of pool.listVolumes()) {
    const vol = pool.openVolume(info.name);
    const data = await vol.read(0, vol.blockCount);
    const versions: number[] = [];
    for (let i = 0; i < vol.blockCount; i++) versions.push(blockVersion(data.subarray(i * vol.blockSize, (i + 1) * vol.blockSize)));
    volumes[info.name] = { blockSize: vol.blockSize, state: info.state, versions };
  }
  return { problems: report.problems, usedBytes: pool.info().usedBytes, allocatedBytes: report.allocatedBytes, volumes };
}
