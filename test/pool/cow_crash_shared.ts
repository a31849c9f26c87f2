/** What the copy-on-write crash workload (cow_crash_worker.ts) and its test agree on. */
import type { PoolCreateOptions } from '../../src/pool/index.ts';
import { setDefaultOwnership } from '../../src/pool/pool_owner.ts';

// A 20 ms heartbeat: each import's claim settles in 40 ms instead of 2 s.
setDefaultOwnership({ intervalMs: 20 });

const KiB = 1024;
const MiB = 1024 * KiB;
export const EXTENT = 64 * KiB;
/** Volumes span 12 extents: small enough to read whole after every kill. */
export const VOLUME_BYTES = 12 * EXTENT;
export const SECTORS = VOLUME_BYTES / 512;

export function cowCrashPoolOptions(): PoolCreateOptions {
  // A tiny journal: checkpoint rollovers happen inside the rounds too.
  return { name: 'cowcrash', sizeBytes: 24 * MiB, extentSize: EXTENT, journalBytes: 32 * KiB };
}

/** Sectors [lba, lba+count) written by `tag`: each holds the tag, its own lba and a fill byte. */
export function tagged(lba: number, count: number, tag: number): Buffer {
  const b = Buffer.alloc(count * 512, (tag % 251) + 1);
  for (let i = 0; i < count; i++) {
    b.writeUInt32LE(tag, i * 512);
    b.writeUInt32LE(lba + i, i * 512 + 4);
  }
  return b;
}

/** Each sector's tag: 0 for zeros, -1 for anything no single write put there (torn or misplaced). */
export function sectorTags(img: Buffer): number[] {
  const out: number[] = [];
  for (let s = 0; s * 512 < img.length; s++) {
    const o = s * 512;
    const tag = img.readUInt32LE(o);
    if (tag === 0) {
      out.push(img.subarray(o, o + 512).every((x) => x === 0) ? 0 : -1);
      continue;
    }
    const fill = (tag % 251) + 1;
    let ok = img.readUInt32LE(o + 4) === s;
    for (let i = o + 8; ok && i < o + 512; i++) if (img[i] !== fill) ok = false;
    out.push(ok ? tag : -1);
  }
  return out;
}

/** A small deterministic PRNG (mulberry32), so a failing round can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
