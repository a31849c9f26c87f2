import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setDefaultOwnership } from './pool_owner.ts';

// Pools in unit tests beat every 20 ms, so an import's claim settles in 40 ms, not 2 s.
setDefaultOwnership({ intervalMs: 20 });

/** A temp dir on tmpfs when there is one; removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'berth-pool-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A scratch directory on the checkout's own disk (its .build dir), never tmpfs: for tests
 * of what only a real filesystem does (O_DSYNC, unwritten extents, fdatasync off the loop).
 */
export function diskTempDir(prefix: string): string {
  const base = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', '.build');
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, prefix));
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** A block-sized buffer whose every byte says which tag wrote it. */
export function pattern(len: number, tag: number): Buffer {
  const b = Buffer.alloc(len, tag & 0xff);
  for (let o = 0; o + 4 <= len; o += 512) b.writeUInt32LE(tag, o);
  return b;
}
