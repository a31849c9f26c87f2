/**
 * The owner record on a block device is read and written O_DIRECT (another host's beats
 * must come from the device, not this host's page cache): checked on a loop device.
 * Run: node --test test/pool/owner_io_direct.test.ts
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openOwnerBlockIo } from '../../src/pool/pool_owner_io.ts';
import { run } from '../helpers/tools.ts';

const O_DIRECT = 0o40000;

function openFlags(target: string): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== target) continue;
      const m = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (m) out.push(parseInt(m[1], 8));
    } catch {
      // The fd of the directory listing itself, gone by now.
    }
  }
  return out;
}

test('owner record I/O on a block device is O_DIRECT and round-trips', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-ownio-${process.pid}-`));
  const backing = path.join(dir, 'dev.img');
  fs.writeFileSync(backing, '');
  fs.truncateSync(backing, 16 * 2 ** 20);
  let dev = '';
  t.after(async () => {
    if (dev !== '') await run('losetup', ['-d', dev], { check: false });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  dev = (await run('losetup', ['-f', '--show', backing])).stdout.trim();
  const io = await openOwnerBlockIo(dev, true);
  try {
    const flags = openFlags(dev);
    assert.equal(flags.length, 1);
    assert.ok((flags[0] & O_DIRECT) !== 0, `flags ${flags[0].toString(8)} lack O_DIRECT`);
    const block = await io.read();
    block.write('owner', 2048, 'latin1');
    await io.write(block);
    assert.equal((await io.read()).toString('latin1', 2048, 2053), 'owner');
  } finally {
    await io.close();
  }
});

test('create on a block device held exclusively elsewhere (here: another O_EXCL opener, like a mount) is POOL_IN_USE, even with force', async (t) => {
  const { Pool } = await import('../../src/pool/index.ts');
  const { errorCode } = await import('../../src/util/errors.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-excl-${process.pid}-`));
  const backing = path.join(dir, 'dev.img');
  fs.writeFileSync(backing, '');
  fs.truncateSync(backing, 64 * 2 ** 20);
  let dev = '';
  let holder: number | undefined;
  t.after(async () => {
    if (holder !== undefined) fs.closeSync(holder);
    if (dev !== '') await run('losetup', ['-d', dev], { check: false });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  dev = (await run('losetup', ['-f', '--show', backing])).stdout.trim();
  holder = fs.openSync(dev, fs.constants.O_RDONLY | fs.constants.O_EXCL);
  await assert.rejects(Pool.create(dev, { name: 'x', force: true }), (e) => errorCode(e) === 'POOL_IN_USE'
    && /opened the device exclusively/.test((e as Error).message));
  fs.closeSync(holder);
  holder = undefined;
  const pool = await Pool.create(dev, { name: 'x' });
  await pool.close();
});
