/**
 * fio (libiscsi engine, built by scripts/build-fio.sh) writes 1 GiB and more through
 * Berth's target and verifies every block's crc32c on read-back, on a thin volume whose
 * extents are all allocated by these writes and on a 4096-byte-block volume.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { fioPath, run } from '../helpers/tools.ts';
import { ok, provision, GiB, MiB } from './engine_kit.ts';

let engine: EngineProcess;

before(async () => {
  engine = await startEngine();
  await ok(engine.api, 'POST', '/v1/pools', { name: 'fio', sizeBytes: 3 * GiB });
});
after(async () => {
  await engine?.stop();
});

interface FioJob { error: number; write: { io_bytes: number }; read: { io_bytes: number } }

async function fioVerify(url: string, extra: string[]): Promise<FioJob> {
  const fio = fioPath();
  assert.ok(fio, 'scripts/build-fio.sh must have built .build/fio/fio (npm test runs it)');
  const r = await run(fio, [
    '--name=verify', '--ioengine=libiscsi', `--filename=${url.replace(/:/g, '\\:')}`, '--thread',
    '--verify=crc32c', '--do_verify=1', '--verify_fatal=1', '--verify_state_save=0', '--output-format=json',
    ...extra,
  ], { check: false, timeoutMs: 10 * 60_000 });
  assert.equal(r.code, 0, `fio failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  // fio may print notes before its JSON document.
  const job = (JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: FioJob[] }).jobs[0];
  assert.equal(job.error, 0, 'fio reports no I/O or verify error');
  return job;
}

test('fio verify=crc32c over 1 GiB of sequential and random writes on a thin volume', async () => {
  const ex = (await provision(engine.api, { pool: 'fio', createPool: false, volume: 'v512', volumeBytes: GiB + 64 * MiB }))!;
  const seq = await fioVerify(ex.url, ['--rw=write', '--bs=256k', '--iodepth=8', '--size=1G']);
  assert.equal(seq.write.io_bytes, GiB, 'fio wrote the whole GiB');
  assert.equal(seq.read.io_bytes, GiB, 'and read all of it back to verify');
  const rnd = await fioVerify(ex.url, ['--rw=randwrite', '--bs=4k', '--iodepth=32', '--size=64M', '--offset=512M']);
  assert.equal(rnd.read.io_bytes, 64 * MiB);
  const vol = await ok<{ allocatedBytes: number }>(engine.api, 'GET', '/v1/pools/fio/volumes/v512');
  assert.ok(vol.allocatedBytes >= GiB, `thin volume allocated what was written (${vol.allocatedBytes})`);
});

test('fio verify on a volume with 4096-byte logical blocks', async () => {
  await ok(engine.api, 'POST', '/v1/pools/fio/volumes', { name: 'v4k', sizeBytes: 256 * MiB, blockSize: 4096, thin: false });
  const ex = await ok<{ url: string }>(engine.api, 'POST', '/v1/exports', { pool: 'fio', volume: 'v4k', allowedInitiators: null });
  const job = await fioVerify(ex.url, ['--rw=randwrite', '--bs=16k', '--iodepth=16', '--size=256M']);
  assert.equal(job.read.io_bytes, 256 * MiB);
});
