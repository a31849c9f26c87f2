import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PoolFile } from './pool_file.ts';
import { IoMode } from './pool_io_policy.ts';
import { diskTempDir } from './pool_test_util.ts';

/** A pool file on the temp dir's filesystem, with fdatasync counted (thread-pool and inline). */
function withCountedSyncs(mode: IoMode, inline: boolean, fn: (f: PoolFile, syncs: () => number) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-poolflush-'));
    const fd = fs.openSync(path.join(dir, 'f'), 'w+');
    const async = mock.method(fs, 'fdatasync');
    const sync = mock.method(fs, 'fdatasyncSync');
    try {
      await fn(new PoolFile(fd, mode, undefined, inline), () => async.mock.callCount() + sync.mock.callCount());
    } finally {
      async.mock.restore();
      sync.mock.restore();
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

for (const mode of [IoMode.sync, IoMode.async]) {
  for (const inline of [false, true]) {
    const what = `${mode} writes, ${inline ? 'inline' : 'thread-pool'} fdatasync`;

    test(`${what}: a flush syncs only when a write completed since the last sync began`, withCountedSyncs(mode, inline, async (f, syncs) => {
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

    test(`${what}: the pool's own sync always runs a fresh fdatasync and serves later flushes`, withCountedSyncs(mode, inline, async (f, syncs) => {
      await f.sync();
      assert.equal(syncs(), 1, 'a fresh sync runs even with no counted write (fallocate, punch)');
      await f.write(Buffer.alloc(512, 3), 0, 512, 0);
      await f.sync();
      assert.equal(syncs(), 2);
      await f.flush();
      assert.equal(syncs(), 2, 'the pool sync covered the write');
    }));
  }
}

for (const inline of [false, true]) {
  // No device-mapper or fault-injecting block device on these machines: the failed
  // fdatasync is injected by replacing the call (the only mock in these tests).
  test(`${inline ? 'inline' : 'thread-pool'} fdatasync: after one fails, every later flush fails without another fdatasync, and the pool is told once`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-poolflush-'));
    const fd = fs.openSync(path.join(dir, 'f'), 'w+');
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    let calls = 0;
    const fail = (): boolean => ++calls === 2;
    const asyncM = mock.method(fs, 'fdatasync', (_fd: number, cb: fs.NoParamCallback) => setImmediate(() => cb(fail() ? eio : null)));
    const syncM = mock.method(fs, 'fdatasyncSync', () => { if (fail()) throw eio; });
    try {
      const f = new PoolFile(fd, IoMode.sync, undefined, inline);
      const told: string[] = [];
      f.onSyncFailed = (code) => told.push(code);
      await f.write(Buffer.alloc(4096, 1), 0, 4096, 0);
      await f.flush();
      await f.write(Buffer.alloc(4096, 2), 0, 4096, 4096);
      await assert.rejects(f.flush(), (e: Error & { code?: string }) => e.code === 'MEDIUM_ERROR' && /EIO/.test(e.message));
      await f.write(Buffer.alloc(4096, 3), 0, 4096, 8192);
      for (const later of [f.flush(), f.sync(), f.flush(0)]) {
        await assert.rejects(later, (e: Error & { code?: string }) => e.code === 'MEDIUM_ERROR' && /earlier fdatasync of the pool file failed \(EIO\)/.test(e.message));
      }
      assert.equal(calls, 2, 'no fdatasync after the failed one: a later success would not cover the lost pages');
      assert.deepEqual(told, ['EIO']);
    } finally {
      asyncM.mock.restore();
      syncM.mock.restore();
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('an anticipated fdatasync starts after the turn that asked for it, never on tmpfs, and never after close', async () => {
  // The checkout's disk: on tmpfs anticipation is off.
  const dir = diskTempDir('berth-anticipate-');
  const calls = mock.method(fs, 'fdatasync');
  const turns = async (): Promise<void> => { for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); };
  try {
    const f = await PoolFile.open(path.join(dir, 'f'), fs.constants.O_RDWR | fs.constants.O_CREAT);
    assert.equal(f.onTmpfs, false, `${dir} must not be on tmpfs for this test`);
    await f.write(Buffer.alloc(4096, 1), 0, 4096, 0);
    f.anticipateFlush();
    f.anticipateFlush();
    assert.equal(calls.mock.callCount(), 0, 'not in the turn that completed the write (its response goes first)');
    await turns();
    assert.equal(calls.mock.callCount(), 1, 'one fdatasync for both asks');
    await f.flush();
    assert.equal(calls.mock.callCount(), 1, 'the flush was served by it');
    await f.write(Buffer.alloc(4096, 2), 0, 4096, 4096);
    f.anticipateFlush();
    await f.close();
    await turns();
    assert.equal(calls.mock.callCount(), 1, 'nothing on a closed descriptor');

    const shm = fs.mkdtempSync('/dev/shm/berth-anticipate-');
    const t = await PoolFile.open(path.join(shm, 'f'), fs.constants.O_RDWR | fs.constants.O_CREAT);
    try {
      assert.equal(t.onTmpfs, true);
      await t.write(Buffer.alloc(4096, 3), 0, 4096, 0);
      t.anticipateFlush();
      await turns();
      assert.equal(calls.mock.callCount(), 1, 'tmpfs: its flush syncs inline when asked');
    } finally {
      await t.close();
      fs.rmSync(shm, { recursive: true, force: true });
    }
  } finally {
    calls.mock.restore();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
