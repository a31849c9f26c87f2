/**
 * The commit pattern of the benches (fio libiscsi `--fsync=1`) must really flush Berth's
 * pool. fio 3.33's libiscsi engine sent SYNCHRONIZE CACHE(16) with the LUN's size in
 * bytes as its block count: out of range, so Berth answered CHECK CONDITION and synced
 * nothing, while fio counted the sync as done. scripts/build-fio.sh patches it; this
 * fails with an unpatched fio.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { fioPath, run } from '../helpers/tools.ts';
import { provision, MiB } from './engine_kit.ts';

let engine: EngineProcess;

before(async () => {
  engine = await startEngine();
});
after(async () => {
  await engine?.stop();
});

/** berth_volume_io_ops_total for one volume and op, from /metrics. */
async function ops(volume: string, op: string): Promise<number> {
  const text = await (await fetch(`${engine.api}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('berth_volume_io_ops_total{') && l.includes(`volume="${volume}"`) && l.includes(`op="${op}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('fio --fsync=1 through the libiscsi engine: every sync is a SYNCHRONIZE CACHE that succeeds', async () => {
  const fio = fioPath();
  assert.ok(fio, 'scripts/build-fio.sh must have built .build/fio/fio (npm test runs it)');
  const ex = (await provision(engine.api, { pool: 'p', poolBytes: 256 * MiB, volume: 'commit', volumeBytes: 64 * MiB, thin: false }))!;
  const before = await ops('commit', 'other');
  const r = await run(fio, [
    '--name=commit', '--ioengine=libiscsi', `--filename=${ex.url.replace(/:/g, '\\:')}`, '--rw=randwrite', '--bs=4k',
    '--iodepth=1', '--size=1M', '--fsync=1', '--output-format=json',
  ], { check: false, timeoutMs: 5 * 60_000 });
  assert.equal(r.code, 0, `fio failed:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /request failed/, 'no command failed (an unpatched fio sends an out-of-range SYNCHRONIZE CACHE)');
  const job = (JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Array<{ error: number; sync: { total_ios: number } }> }).jobs[0];
  assert.equal(job.error, 0);
  // fio counts a sync after each write but the last (that one comes with the close).
  assert.ok(job.sync.total_ios >= 255, `a sync per 4 KiB write (${job.sync.total_ios})`);
  const flushes = (await ops('commit', 'other')) - before;
  assert.ok(flushes >= 255, `the engine saw the flushes (${flushes} SYNCHRONIZE CACHE and other non-I/O commands)`);
});
