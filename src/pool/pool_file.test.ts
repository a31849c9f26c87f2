import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MediumError } from '../block/errors.ts';
import { allocIoBuffer, PoolFile, POOL_WRITE_PIECE_BYTES } from './pool_file.ts';
import { IoMode, type IoMode as Mode } from './pool_io_policy.ts';
import { diskTempDir } from './pool_test_util.ts';

function withFile(mode: Mode, fn: (f: PoolFile) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-poolfile-'));
    const fd = fs.openSync(path.join(dir, 'f'), 'w+');
    const f = new PoolFile(fd, mode);
    try {
      await fn(f);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

for (const mode of [IoMode.auto, IoMode.sync, IoMode.async]) {
  test(`${mode}: writes and reads back, at offsets, small and large`, withFile(mode, async (f) => {
    assert.equal(f.policy.mode, mode);
    for (const len of [4096, 1024 * 1024]) {
      const data = Buffer.alloc(len + 100);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + len) & 0xff;
      await f.write(data, 100, len, 8192);
      const back = Buffer.alloc(len + 10, 0xee);
      await f.read(back, 10, len, 8192);
      assert.ok(back.subarray(10).equals(data.subarray(100)));
      assert.equal(back[9], 0xee);
    }
  }));

  test(`${mode}: bytes past the end of the file read as zeros`, withFile(mode, async (f) => {
    await f.write(Buffer.alloc(100, 1), 0, 100, 0);
    const buf = Buffer.alloc(4096, 0xff);
    await f.read(buf, 0, 4096, 0);
    assert.equal(buf.subarray(0, 100).every((b) => b === 1), true);
    assert.equal(buf.subarray(100).every((b) => b === 0), true);
  }));

  test(`${mode}: readInto and writeFrom call back exactly once`, withFile(mode, async (f) => {
    let calls = 0;
    await new Promise<void>((resolve, reject) => f.writeFrom(Buffer.alloc(512, 3), 0, 512, 0, (err) => {
      calls++;
      if (err) reject(err); else resolve();
    }));
    const buf = Buffer.alloc(512);
    await new Promise<void>((resolve, reject) => f.readInto(buf, 0, 512, 0, (err) => {
      calls++;
      if (err) reject(err); else resolve();
    }));
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 2);
    assert.equal(buf[511], 3);
  }));

  test(`${mode}: an I/O error becomes a MediumError`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-poolfile-'));
    fs.writeFileSync(path.join(dir, 'f'), '');
    const fd = fs.openSync(path.join(dir, 'f'), 'r');
    const f = new PoolFile(fd, mode);
    try {
      await assert.rejects(f.write(Buffer.alloc(512), 0, 512, 0), (err: unknown) => err instanceof MediumError);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const mode of [IoMode.sync, IoMode.async]) {
  test(`${mode}: a long write goes out in ascending pieces of at most POOL_WRITE_PIECE_BYTES`, withFile(mode, async (f) => {
    const len = 3 * POOL_WRITE_PIECE_BYTES + 1536;
    const data = Buffer.alloc(len);
    for (let i = 0; i < len; i++) data[i] = (i * 13 + 5) & 0xff;
    const seen: Array<[number, number]> = [];
    const origWrite = fs.write;
    const origWriteSync = fs.writeSync;
    const record = (n: unknown, p: unknown): void => { seen.push([Number(n), Number(p)]); };
    // Spies on the calls PoolFile makes: (fd, buffer, offset, length, position[, callback]).
    (fs as { write: unknown }).write = (...a: unknown[]) => { record(a[3], a[4]); return (origWrite as (...x: unknown[]) => unknown)(...a); };
    (fs as { writeSync: unknown }).writeSync = (...a: unknown[]) => { record(a[3], a[4]); return (origWriteSync as (...x: unknown[]) => unknown)(...a); };
    try {
      await f.write(data, 0, len, 4096 + 512);
    } finally {
      (fs as { write: unknown }).write = origWrite;
      (fs as { writeSync: unknown }).writeSync = origWriteSync;
    }
    assert.equal(seen.length, 4);
    assert.ok(seen.every(([n]) => n <= POOL_WRITE_PIECE_BYTES));
    for (let i = 1; i < seen.length; i++) assert.equal(seen[i][1], seen[i - 1][1] + seen[i - 1][0]);
    const back = Buffer.alloc(len);
    await f.read(back, 0, len, 4096 + 512);
    assert.ok(back.equals(data));
  }));
}

test('zero writes zeros over a range', withFile(IoMode.auto, async (f) => {
  await f.write(Buffer.alloc(3 * 1024 * 1024, 9), 0, 3 * 1024 * 1024, 0);
  await f.zero(4096, 2 * 1024 * 1024 + 512);
  const buf = Buffer.alloc(3 * 1024 * 1024);
  await f.read(buf, 0, buf.length, 0);
  assert.equal(buf[4095], 9);
  assert.equal(buf.subarray(4096, 4096 + 2 * 1024 * 1024 + 512).every((b) => b === 0), true);
  assert.equal(buf[4096 + 2 * 1024 * 1024 + 512], 9);
}));

test('allocIoBuffer: small buffers are distinct views, large ones are their own', () => {
  const a = allocIoBuffer(4096);
  const b = allocIoBuffer(4096);
  assert.equal(a.length, 4096);
  a.fill(1);
  b.fill(2);
  assert.equal(a.every((x) => x === 1), true);
  assert.equal(a.buffer, b.buffer);
  const big = allocIoBuffer(1024 * 1024);
  assert.equal(big.length, 1024 * 1024);
  assert.notEqual(big.buffer, a.buffer);
  // A slab that cannot fit the next piece is replaced, never overrun.
  const pieces = Array.from({ length: 40 }, () => allocIoBuffer(60 * 1024));
  for (const p of pieces) assert.ok(p.byteOffset + p.length <= p.buffer.byteLength);
});

test('a pool file on tmpfs is written in one piece; elsewhere in POOL_WRITE_PIECE_BYTES pieces', async () => {
  const shm = fs.mkdtempSync('/dev/shm/berth-poolfile-');
  const f = await PoolFile.open(path.join(shm, 'f'), fs.constants.O_RDWR | fs.constants.O_CREAT);
  try {
    assert.equal(f.writePieceBytes, Number.MAX_SAFE_INTEGER);
  } finally {
    await f.close();
    fs.rmSync(shm, { recursive: true, force: true });
  }
  assert.equal(new PoolFile(0).writePieceBytes, POOL_WRITE_PIECE_BYTES);
});

test('writeDurable writes through a second O_DSYNC descriptor, honours the ownership guard, and close() closes both', async () => {
  // The checkout's disk, never tmpfs: on tmpfs writeDurable is a plain write and fdatasync.
  const dir = diskTempDir('berth-poolfile-');
  const fdsOpen = (): number => fs.readdirSync('/proc/self/fd').length;
  const before = fdsOpen();
  const f = await PoolFile.open(path.join(dir, 'f'), fs.constants.O_RDWR | fs.constants.O_CREAT);
  try {
    assert.equal(f.onTmpfs, false, `${dir} must not be on tmpfs for this test`);
    await f.writeDurable(Buffer.alloc(8192, 0x5a), 4096);
    const back = Buffer.alloc(8192);
    await f.read(back, 0, back.length, 4096);
    assert.ok(back.every((b) => b === 0x5a));
    // fdinfo's flags are octal.
    const flags = fs.readdirSync('/proc/self/fd').map((n) => {
      try { return Number.parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${n}`, 'utf8'))?.[1] ?? '0', 8); } catch { return 0; }
    }).filter((fl) => (fl & fs.constants.O_DSYNC) !== 0);
    assert.ok(flags.length >= 1, 'an O_DSYNC descriptor is open');
    assert.equal(fdsOpen(), before + 2);
    const gone = new Error('gone');
    f.guard = { lost: gone as never, leaseUntil: 0, renew: (cb) => cb(gone as never) };
    await assert.rejects(f.writeDurable(Buffer.alloc(512), 0), /gone/);
    f.guard = null;
  } finally {
    await f.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(fdsOpen(), before, 'both descriptors closed');
});
