import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from './pool.ts';
import { setThickZeroing, ThickZeroing } from './pool_extent_supply.ts';
import { diskTempDir, MiB, pattern } from './pool_test_util.ts';

/**
 * Bytes of the file at or past `from` that the host keeps as unwritten (fallocated, never
 * written) extents, from `filefrag -v`.
 */
function unwrittenBytes(file: string, from: number): number | undefined {
  let out: string;
  try {
    out = execFileSync('filefrag', ['-v', file], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
  const block = Number(/blocks of (\d+) bytes/.exec(out)?.[1] ?? 4096);
  let n = 0;
  for (const m of out.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):.*unwritten/gm)) {
    const start = Math.max(Number(m[1]) * block, from);
    const end = (Number(m[2]) + 1) * block;
    if (end > start) n += end - start;
  }
  return n;
}

/** A thick volume on a pool file on disk (tmpfs has no unwritten extents): host-unwritten bytes after create. */
async function thickCreate(mode: ThickZeroing, dir: string, grow = false): Promise<{ unwritten: number | undefined; pool: Pool; file: string }> {
  setThickZeroing(mode);
  const file = path.join(dir, `${mode}${grow ? '-grow' : ''}.pool`);
  const pool = await Pool.create(file, { name: `p${process.pid}`, sizeBytes: 64 * MiB });
  try {
    await pool.createVolume({ name: 'v', sizeBytes: 8 * MiB, thin: false });
    if (grow) await pool.resizeVolume('v', 16 * MiB);
    fs.closeSync(fs.openSync(file, 'r'));
    execFileSync('sync', ['-f', file]);
    // The pool's own metadata area is fallocated at create (not this change): only the data area counts.
    return { unwritten: unwrittenBytes(file, pool.dataOffset), pool, file };
  } catch (err) {
    await pool.close();
    throw err;
  } finally {
    setThickZeroing(ThickZeroing.lazy);
  }
}

test('eager thick zeroing leaves no unwritten host extents under a new or grown thick volume; lazy leaves the volume fallocated', async () => {
  // On disk, never tmpfs (which has no unwritten extents): the checkout's .build dir.
  const dir = diskTempDir(`berth-thick-zero-${process.pid}-`);
  try {
    const lazy = await thickCreate(ThickZeroing.lazy, dir);
    await lazy.pool.close();
    // The test needs a host that shows fallocated blocks (e2fsprogs' filefrag on ext4 or xfs); it fails rather than skips without one.
    assert.ok(lazy.unwritten !== undefined && lazy.unwritten >= 8 * MiB,
      `${dir} reports ${String(lazy.unwritten)} unwritten bytes for a fallocated thick volume: filefrag missing, or not ext4/xfs`);
    for (const grow of [false, true]) {
      const eager = await thickCreate(ThickZeroing.eager, dir, grow);
      try {
        assert.equal(eager.unwritten, 0, grow ? 'after a thick grow' : 'after a thick create');
        // The volume still reads zeros and takes writes.
        const v = eager.pool.openVolume('v');
        assert.ok((await v.read(0, 16)).equals(Buffer.alloc(16 * 512)));
        await v.write(8, pattern(4096, 7), true);
        assert.ok((await v.read(8, 8)).equals(pattern(4096, 7)));
      } finally {
        await eager.pool.close();
      }
      // And it survives an import (the zeros did not disturb the metadata).
      const again = await Pool.import(eager.file);
      try {
        assert.ok((await again.openVolume('v').read(8, 8)).equals(pattern(4096, 7)));
      } finally {
        await again.close();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
