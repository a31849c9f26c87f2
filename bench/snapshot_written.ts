/**
 * Snapshot and clone create on volumes written whole (issue 12's bar: a fully written
 * 16 GiB volume against a 1 GiB one), on a disk directory rather than tmpfs: 17 GiB of
 * data do not fit in this machine's memory, and on disk every create pays its real
 * fdatasyncs. Both volumes live in one pool and are timed interleaved (alternating which
 * goes first), each round after a 4 KiB write into the volume, as a live volume would have.
 */
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from '../src/pool/index.ts';
import { markdownTable } from './bench_table.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const BIG = 16 * GiB;
const SMALL = GiB;

export interface WrittenOptions {
  /** A directory on a disk with room for the pool (about 17.5 GiB). */
  dir: string;
  quick: boolean;
  log: (s: string) => void;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** Bytes free under `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Room the figures need under `dir`. */
export const WRITTEN_NEEDS_BYTES = BIG + SMALL + 2 * GiB;

async function writeWhole(pool: Pool, name: string, size: number): Promise<number> {
  await pool.createVolume({ name, sizeBytes: size, thin: true });
  const v = pool.openVolume(name);
  const buf = Buffer.alloc(MiB, 0x5a);
  const t0 = performance.now();
  for (let at = 0; at < size;) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < 16 && at < size; i++, at += MiB) batch.push(v.write(at / 512, buf, false));
    await Promise.all(batch);
  }
  await v.flush();
  return (performance.now() - t0) / 1000;
}

/** The table: median snapshot and clone create times on both volumes and their ratios. */
export async function writtenWholeFigures(o: WrittenOptions): Promise<string> {
  const dir = mkdtempSync(join(o.dir, 'berth-cow-written-'));
  const rounds = o.quick ? 5 : 15;
  try {
    const pool = await Pool.create(join(dir, 'pool'), { name: 'written', sizeBytes: BIG + SMALL + GiB });
    try {
      o.log('snapshot/clone create on volumes written whole: writing 1 GiB and 16 GiB');
      const fillS = { small: await writeWhole(pool, 'small', SMALL), big: await writeWhole(pool, 'big', BIG) };
      const t = { small: { snap: [] as number[], clone: [] as number[] }, big: { snap: [] as number[], clone: [] as number[] } };
      // Round -1 warms up and is not counted.
      for (let r = -1; r < rounds; r++) {
        for (const name of (r % 2 === 0 ? ['small', 'big'] as const : ['big', 'small'] as const)) {
          await pool.openVolume(name).write((r + 1) * 2400, Buffer.alloc(4096, r & 0xff), false);
          let t0 = performance.now();
          await pool.createSnapshot(name, `${name}-s${r}`);
          if (r >= 0) t[name].snap.push(performance.now() - t0);
          t0 = performance.now();
          await pool.createVolumeFromSnapshot({ name: `${name}-c${r}`, snapshot: `${name}-s${r}` });
          if (r >= 0) t[name].clone.push(performance.now() - t0);
        }
      }
      const f = (x: number): string => x.toFixed(2);
      const row = (label: string, k: 'small' | 'big', s: number): string[] =>
        [label, f(median(t[k].snap)), f(Math.max(...t[k].snap)), f(median(t[k].clone)), `${s.toFixed(0)} s`];
      return markdownTable(
        [`written whole, pool on disk (${o.dir})`, `snapshot create, ms (median of ${rounds})`, 'longest, ms', 'clone from snapshot, ms (median)', 'writing it took'],
        [
          row('1 GiB', 'small', fillS.small),
          row('16 GiB', 'big', fillS.big),
          ['ratio 16 GiB / 1 GiB', f(median(t.big.snap) / median(t.small.snap)), '', f(median(t.big.clone) / median(t.small.clone)), ''],
        ]);
    } finally {
      await pool.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
