import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { NoSpaceError } from '../block/errors.ts';
import type { PoolFile } from './pool_file.ts';

/**
 * The host side of a pool file: how much of it the filesystem has really allocated,
 * how much the filesystem has left, and making a range own its blocks. Node has no
 * fallocate(2), so ranges are allocated with util-linux `fallocate` (instant on ext4,
 * xfs and tmpfs: unwritten extents, no data written); where the tool is missing or the
 * filesystem does not support it, zeros are written instead (docs/pool-format.md §8).
 */

export interface HostSpace {
  /** The file's length (st_size); a sparse file has fewer bytes backed. */
  fileBytes: number;
  /** Bytes of the file the filesystem has allocated (st_blocks × 512). */
  backedBytes: number;
  /** Bytes an unprivileged writer may still allocate on the filesystem (statfs f_bavail × f_bsize). */
  availableBytes: number;
}

/** Current host figures for a regular pool file; undefined for a block device or on failure. */
export function hostSpace(file: PoolFile, path: string): HostSpace | undefined {
  try {
    const st = fs.fstatSync(file.fd);
    if (!st.isFile()) return undefined;
    const sfs = fs.statfsSync(path);
    return { fileBytes: st.size, backedBytes: st.blocks * 512, availableBytes: sfs.bavail * sfs.bsize };
  } catch {
    return undefined;
  }
}

/** True when the pool lives on a regular file (the only case where the host may run out). */
export function isRegularFile(file: PoolFile): boolean {
  try {
    return fs.fstatSync(file.fd).isFile();
  } catch {
    return false;
  }
}

interface ToolResult { ok: boolean; stderr: string; missing: boolean }

function runFallocate(args: string[]): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile('fallocate', args, { timeout: 120_000 }, (err, _stdout, stderr) => {
      const missing = (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      resolve({ ok: err === null, stderr: String(stderr), missing });
    });
  });
}

const NO_SPACE_TEXT = /No space left on device|Disk quota exceeded/i;

/**
 * Makes [pos, pos+len) of a pool file own its blocks on the host. Rejects with
 * NoSpaceError (naming `what`) when the filesystem cannot: a refusal of this request,
 * not by itself a full host (a large thick volume may simply not fit).
 *
 * `writeZeros`: without the tool, or on a filesystem without fallocate, write zeros over
 * the range instead. Only for a range whose bytes do not matter (free extents, which
 * read as zeros anyway; metadata about to be written at create) — never over live data.
 * Without it such a range is left as it is.
 */
export async function backRange(file: PoolFile, path: string, pos: number, len: number, what: string,
  writeZeros: boolean): Promise<void> {
  if (len <= 0) return;
  const r = await runFallocate(['-o', String(pos), '-l', String(len), path]);
  if (r.ok) return;
  if (NO_SPACE_TEXT.test(r.stderr)) throw new NoSpaceError(`host filesystem cannot allocate ${len} bytes for ${what}`);
  if (!writeZeros) return;
  try {
    await file.zero(pos, len);
  } catch (err) {
    if (err instanceof NoSpaceError) throw new NoSpaceError(`host filesystem cannot allocate ${len} bytes for ${what}`);
    throw err;
  }
}

/**
 * Gives [pos, pos+len) back to the host filesystem; the range then reads as zeros.
 * Used where writing zeros would need blocks the host does not have. Resolves false
 * when the filesystem (or the missing tool) cannot punch holes.
 */
export async function punchRange(path: string, pos: number, len: number): Promise<boolean> {
  if (len <= 0) return true;
  const r = await runFallocate(['--punch-hole', '-o', String(pos), '-l', String(len), path]);
  return r.ok;
}

/**
 * Zeroes whole extents like PoolFile.zero, but where the host is out of space (zeros
 * written into a hole need blocks) punches the range instead: a full host filesystem
 * must not stop an erase, a delete or an import.
 */
export async function zeroOrPunch(file: PoolFile, path: string, pos: number, len: number): Promise<void> {
  try {
    await file.zero(pos, len);
  } catch (err) {
    if (!(err instanceof NoSpaceError) || !(await punchRange(path, pos, len))) throw err;
  }
}
