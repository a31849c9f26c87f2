/** What the snapshot crash workload and its test agree on. */
import type { PoolCreateOptions } from '../../src/pool/index.ts';
import { setDefaultOwnership } from '../../src/pool/pool_owner.ts';

// Worker and checker both import this: a 20 ms heartbeat makes each import's claim settle
// in 40 ms instead of 2 s (the killed worker's pid is gone, so no wait beyond that).
setDefaultOwnership({ intervalMs: 20 });

const KiB = 1024;
const MiB = 1024 * KiB;

export function snapshotCrashPoolOptions(): PoolCreateOptions {
  // Small extents and a tiny journal: many extents per copy and frequent checkpoint rollovers.
  return { name: 'snapcrash', sizeBytes: 40 * MiB, extentSize: 64 * KiB, journalBytes: 32 * KiB };
}

export const SNAP_SOURCE = { name: 'src', sizeBytes: 2 * MiB, blockSize: 512 as const, thin: true };

/** A volume image where every 512-byte sector starts with `gen` and repeats its low byte. */
export function generationImage(bytes: number, gen: number): Buffer {
  const b = Buffer.alloc(bytes, (gen % 251) + 1);
  for (let o = 0; o < bytes; o += 512) b.writeUInt32LE(gen, o);
  return b;
}

/** The generation of each sector of an image: -1 for a sector that is no whole generation. */
export function sectorGenerations(img: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o < img.length; o += 512) {
    const gen = img.readUInt32LE(o);
    const fill = (gen % 251) + 1;
    let ok = true;
    for (let i = o + 4; i < o + 512; i++) if (img[i] !== fill) { ok = false; break; }
    out.push(ok ? gen : -1);
  }
  return out;
}
