import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PoolFile } from './pool_file.ts';
import { IoMode } from './pool_io_policy.ts';

/** A pool file on the temp dir's filesystem, with fdatasync counted. */
function withCountedSyncs(mode: IoMode, fn: (f: PoolFile, syncs: () => number) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-poolflush-'));
    const fd = fs.openSync(path.join(dir, 'f'), 'w+');
    const syncs = mock.method(fs, 'fdatasync');
    try {
      await fn(new PoolFile(fd, mode), () => syncs.mock.callCount());
    } finally {
      syncs.mock.restore();
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

for (const mode of [IoMode.sync, IoMode.async]) {
  const what = `${mode} writes`;

  test(`${what}: a flush syncs only when a write completed since the last sync began`, withCountedSyncs(mode, async (f, syncs) => {
    await f.flush();
    assert.equal(syncs(), 1, 'just opened: pages a dead process left dirty are synced once');
    await f.flush();
    assert.equal(syncs(), 1, 'nothing written since: nothing to sync');
    await f.write(Buffer.alloc(4096, 1), 0, 4096, 0);
    await f.flush();
    assert.equal(syncs(), 2);
    await f.flush();
    await Promise.all([f.flush(), f.flush()]);
    assert.equal(syncs(), 2, 'no write since: the flushes are already served');
    const mark = f.writesCompleted;
    await f.write(Buffer.alloc(4096, 2), 0, 4096, 4096);
    await f.flush(mark);
    assert.equal(syncs(), 2, 'a flush up to a mark before the write needs no sync');
    await Promise.all([f.flush(), f.flush(), f.flush()]);
    assert.equal(syncs(), 3, 'concurrent flushes after one write share one fdatasync');
  }));

  test(`${what}: the pool's own sync always runs a fresh fdatasync and serves later flushes`, withCountedSyncs(mode, async (f, syncs) => {
    await f.sync();
    assert.equal(syncs(), 1, 'a fresh sync runs even with no counted write (fallocate, punch)');
    await f.write(Buffer.alloc(512, 3), 0, 512, 0);
    await f.sync();
    assert.equal(syncs(), 2);
    await f.flush();
    assert.equal(syncs(), 2, 'the pool sync covered the write');
  }));
}
