/**
 * Issue 9 §2: creating a pool never destroys data. POST /v1/pools (and `berth pool
 * create`) refuses a target that holds data or a known signature unless told `force`,
 * and paths outside the engine's pool roots, relative paths and /etc.
 * Run: node --test test/engine/pool_create_safety.test.ts
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine } from '../helpers/engine_process.ts';
import { run } from '../helpers/tools.ts';
import { berth, call, ok, refused, withTmp, MiB } from './engine_kit.ts';

type ErrorBody = { error: { code: string; message: string } };

test('pool create: data and signatures need force; paths stay inside the pool roots', async () => {
  await withTmp('create-safety', async (dir) => {
    const engine = await startEngine({ poolRoots: [dir] });
    try {
      await checks(engine.api, dir);
    } finally {
      await engine.stop();
    }
  });
});

async function checks(api: string, dir: string): Promise<void> {

  // A file with "hello" in it: refused, and left exactly as it was.
  const hello = join(dir, 'hello.txt');
  writeFileSync(hello, 'hello\n');
  const r = await call<ErrorBody>(api, 'POST', '/v1/pools', { name: 'h', path: hello, sizeBytes: 64 * MiB });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.body.error.code, 'POOL_DEVICE_NOT_EMPTY');
  assert.match(r.body.error.message, /not empty \(non-zero data at byte 0\).*force/);
  assert.equal(readFileSync(hello, 'utf8'), 'hello\n');

  // A filesystem is named; the CLI shows the code and its --force formats anyway.
  const fsImage = join(dir, 'ext4.img');
  writeFileSync(fsImage, '');
  truncateSync(fsImage, 64 * MiB);
  await run('mkfs.ext4', ['-q', '-F', fsImage]);
  const cli = await berth(api, ['pool', 'create', 'e', '--path', fsImage]);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stdout + cli.stderr, /POOL_DEVICE_NOT_EMPTY/);
  assert.match(cli.stdout + cli.stderr, /ext4 filesystem/);
  const forced = await berth(api, ['pool', 'create', 'e', '--path', fsImage, '--force', '-o', 'json']);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  assert.equal(JSON.parse(forced.stdout).state, 'online');

  // force also works through the API; an existing Berth pool is never overwritten, even with it.
  await ok(api, 'POST', '/v1/pools', { name: 'h', path: hello, sizeBytes: 64 * MiB, force: true });
  await refused(api, 'POST', '/v1/pools', { name: 'again', path: fsImage, force: true }, 409, 'POOL_EXISTS');

  // Outside the roots, relative, or /etc: refused before anything is opened.
  await refused(api, 'POST', '/v1/pools', { name: 'etc', path: '/etc/berth-pool-test', sizeBytes: 64 * MiB }, 403, 'POOL_PATH_NOT_ALLOWED');
  assert.equal(existsSync('/etc/berth-pool-test'), false);
  await refused(api, 'POST', '/v1/pools', { name: 'rel', path: 'pools/rel.pool', sizeBytes: 64 * MiB }, 403, 'POOL_PATH_NOT_ALLOWED');
  await refused(api, 'POST', '/v1/pools', { name: 'esc', path: join(dir, '..', 'escape.pool'), sizeBytes: 64 * MiB }, 403, 'POOL_PATH_NOT_ALLOWED');
  await refused(api, 'POST', '/v1/pools/import', { path: '/etc/passwd' }, 403, 'POOL_PATH_NOT_ALLOWED');
  // The default place (the data dir) needs no root, and a new sparse file in a root needs no force.
  await ok(api, 'POST', '/v1/pools', { name: 'd', sizeBytes: 64 * MiB });
  await ok(api, 'POST', '/v1/pools', { name: 'n', path: join(dir, 'new.pool'), sizeBytes: 64 * MiB });
}
