import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkPoolPath } from './pool_paths.ts';
import { errorCode } from '../util/errors.ts';

const refused = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e) => errorCode(e) === 'POOL_PATH_NOT_ALLOWED' && re.test((e as Error).message));

test('pool paths: inside a root, or a block device under /dev; nothing else', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-roots-'));
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-outside-'));
  t.after(() => { fs.rmSync(root, { recursive: true, force: true }); fs.rmSync(outside, { recursive: true, force: true }); });
  assert.equal(checkPoolPath(path.join(root, 'a.pool'), [root]), path.join(root, 'a.pool'));
  assert.equal(checkPoolPath(path.join(root, 'sub', '..', 'b.pool'), [root]), path.join(root, 'b.pool'));
  refused(() => checkPoolPath('pools/a.pool', [root]), /relative/);
  refused(() => checkPoolPath('/etc/berth.pool', [root]), /outside this engine's pool roots/);
  refused(() => checkPoolPath(path.join(root, '..', path.basename(outside), 'x'), [root]), /outside/);
  refused(() => checkPoolPath(`${root}-evil/x.pool`, [root]), /outside/);
  // A symlink inside the root that leads out of it is followed before the check.
  fs.symlinkSync(outside, path.join(root, 'link'));
  refused(() => checkPoolPath(path.join(root, 'link', 'x.pool'), [root]), /outside/);
  assert.equal(checkPoolPath(path.join(outside, 'x.pool'), [root, outside]), path.join(outside, 'x.pool'));
  // A regular file under /dev (tmpfs) is no block device.
  refused(() => checkPoolPath('/dev/shm/berth-not-a-device', [root]), /outside/);
  const loops = fs.readdirSync('/dev').filter((n) => /^loop\d+$/.test(n));
  if (loops.length > 0) assert.equal(checkPoolPath(`/dev/${loops[0]}`, [root]), `/dev/${loops[0]}`);
});
