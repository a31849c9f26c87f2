/**
 * A real failed fdatasync under a pool. The pool file is a FUSE file served by this test
 * process (src/fuse: the same front end as the engine's local attach, over a memory
 * device), so the engine's fdatasync goes through the kernel and comes back EIO when the
 * device's flush is made to fail once. Then the kernel would sync fine again, which is
 * exactly when the engine must not: after one failed fdatasync every later flush fails
 * (MEDIUM ERROR) and the pool's condition is syncFailed. (Only a new import clears it;
 * the heartbeat is slowed here so that its O_DSYNC writes cannot take the injected fault
 * first, and with it a restart would wait a minute for the owner record: the clearing is
 * covered by src/pool/pool_condition.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MediumError } from '../../src/block/errors.ts';
import { FuseFront } from '../../src/fuse/fuse_front.ts';
import { FuseMount } from '../../src/fuse/fuse_mount.ts';
import { harness, nexus } from '../../src/scsi/testing.ts';
import { startEngine } from '../helpers/engine_process.ts';
import { ok, qemuIo, withTmp, MiB } from './engine_kit.ts';

const POOL_BYTES = 96 * MiB;
const VOLUME_BYTES = 16 * MiB;

/** A FUSE file of POOL_BYTES at `path`, kept in this process's memory. */
async function faultyFile(path: string) {
  const h = harness({ blockCount: POOL_BYTES / 512, thin: true });
  const nx = nexus(3);
  h.target.nexusAdded(nx);
  // Set before the first request arrives (the socket reads in a later poll phase).
  const out: { mount?: FuseMount } = {};
  const front = new FuseFront({
    unit: { target: h.target, lun: 0, geometry: () => ({ blockSize: 512, blockCount: h.device.blockCount, thin: true }) },
    nexus: nx, maxWrite: 128 * 1024,
    send: (r) => out.mount?.send(r),
  });
  const mount = await FuseMount.mount({ path, source: 'berth-test:faulty', maxWrite: 128 * 1024, onRequest: (b, n) => front.handle(b, n), onGone: () => undefined });
  out.mount = mount;
  return { device: h.device, mount };
}

test('a failed fdatasync of the pool file fails that flush and every later one, with no fdatasync tried again', { timeout: 180_000 }, () => withTmp('syncfault', async (dir) => {
  const file = faultyFile(join(dir, 'pool.img'));
  const { device, mount } = await file;
  // No heartbeat in the test's window: its O_DSYNC writes would meet the injected fault first.
  const engine = await startEngine({ poolRoots: [dir], args: ['--pool-heartbeat-ms', '60000'] });
  try {
    await ok(engine.api, 'POST', '/v1/pools', { name: 'sf', path: mount.path, force: true }, 201);
    await ok(engine.api, 'POST', '/v1/pools/sf/volumes', { name: 'v', sizeBytes: VOLUME_BYTES, thin: false }, 201);
    const ex = await ok<{ url: string }>(engine.api, 'POST', '/v1/exports', { pool: 'sf', volume: 'v', allowedInitiators: null }, 201);
    const flushOf = async (pattern: number): Promise<string> => {
      const r = await qemuIo(ex.url, [`write -P ${pattern} 0 64k`, 'flush']);
      return r.stdout + r.stderr;
    };
    assert.doesNotMatch(await flushOf(0x11), /fail|error/i, 'a healthy flush');

    device.injectFault({ op: 'flush', error: new MediumError('the disk lost the write cache') });
    assert.match(await flushOf(0x22), /flush failed|Input\/output error/i, 'the failing fdatasync fails its flush');
    assert.equal((await ok<{ condition: string }>(engine.api, 'GET', '/v1/pools/sf')).condition, 'syncFailed');

    // The fault is gone; the kernel would sync again. The engine still refuses: those writes may be lost.
    const flushesBefore = device.stats.flushes;
    assert.match(await flushOf(0x33), /flush failed|Input\/output error/i, 'a later flush is not answered by a later sync');
    assert.equal(device.stats.flushes, flushesBefore, 'no fdatasync was even tried');
    const metrics = await (await fetch(new URL('/metrics', engine.api))).text();
    assert.match(metrics, /^berth_pool_condition\{pool="sf",condition="syncFailed"\} 1$/m);
  } finally {
    await engine.stop();
    await mount.unmount(true).catch(() => undefined);
  }
}));
