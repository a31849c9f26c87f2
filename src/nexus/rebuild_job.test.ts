import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RebuildJob, REBUILD_SPAN_BYTES } from './rebuild_job.ts';
import { RebuildMap } from './rebuild_map.ts';
import { WriteIntentMap } from './write_intent_map.ts';
import { NexusIoGate } from './nexus_io_gate.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';

const BS = 4096;
const REGION_BLOCKS = 64; // 256 KiB regions
const BLOCKS = (4 * REBUILD_SPAN_BYTES) / BS; // 32 MiB: four spans

function setup(): { source: TestDevice; target: TestDevice; gate: NexusIoGate; map: RebuildMap } {
  const source = new TestDevice(BLOCKS, BS);
  const target = new TestDevice(BLOCKS, BS);
  const intents = new WriteIntentMap(BLOCKS, REGION_BLOCKS);
  intents.markAll();
  return { source, target, gate: new NexusIoGate(), map: new RebuildMap(intents) };
}

async function fillSource(source: TestDevice, version: number): Promise<void> {
  const step = 256;
  for (let lba = 0; lba < BLOCKS; lba += step) await source.write(lba, pattern(lba, step, BS, version), false);
}

/** Counts target writes in flight at once. */
function trackInFlight(dev: TestDevice): { max: () => number } {
  let now = 0;
  let max = 0;
  const write = dev.write.bind(dev);
  dev.write = (lba: number, data: Buffer, fua: boolean) => {
    max = Math.max(max, ++now);
    return write(lba, data, fua).finally(() => { now--; });
  };
  return { max: () => max };
}

test('rebuild_pipeline: several large segments are in flight at once, and progress ends at the total', async () => {
  const { source, target, gate, map } = setup();
  await fillSource(source, 1);
  source.latency = 2;
  target.latency = 2;
  const inflight = trackInFlight(target);
  const job = new RebuildJob({ source, target, map, gate, blankTarget: true, parallel: 2 });
  const running = job.run();
  while (job.progress().bytesDone === 0) await new Promise((r) => setTimeout(r, 1));
  const mid = job.progress();
  await running;
  assert.ok(inflight.max() >= 2 * REBUILD_SPAN_BYTES / (1024 * 1024), `at most ${inflight.max()} chunks were in flight`);
  const end = job.progress();
  assert.equal(end.bytesDone, BLOCKS * BS);
  assert.equal(end.bytesTotal, BLOCKS * BS);
  assert.equal(end.bytesCopied, BLOCKS * BS);
  assert.ok(mid.bytesTotal === BLOCKS * BS && mid.bytesDone < mid.bytesTotal, `mid-run progress ${JSON.stringify(mid)}`);
  assert.ok(target.data.equals(source.data));
});

test('rebuild_throttle: the job sleeps as long as the byte rate asks, and a new throttle applies at once', async () => {
  const { source, target, gate, map } = setup();
  await fillSource(source, 1);
  let clock = 1000;
  let slept = 0;
  const rate = 16 * 1024 * 1024; // 32 MiB at 16 MiB/s: 2 s of (fake) time
  const job = new RebuildJob({
    source, target, map, gate, blankTarget: true, parallel: 2, throttleBytesPerSec: rate,
    now: () => clock,
    sleep: (ms) => { clock += ms; slept += ms; return Promise.resolve(); },
  });
  await job.run();
  assert.ok(slept >= 1800 && slept <= 2000, `slept ${slept} ms for 2 s worth of bytes`);
  assert.ok(target.data.equals(source.data));

  // Lifting the throttle mid-run: no more sleeping.
  const s2 = setup();
  await fillSource(s2.source, 1);
  let slept2 = 0;
  let clock2 = 0;
  const job2: RebuildJob = new RebuildJob({
    source: s2.source, target: s2.target, map: s2.map, gate: s2.gate, blankTarget: true, parallel: 1, throttleBytesPerSec: rate,
    now: () => clock2,
    sleep: (ms) => { clock2 += ms; slept2 += ms; job2.setThrottle(0); return Promise.resolve(); },
  });
  await job2.run();
  assert.ok(slept2 > 0 && slept2 < 200, `slept ${slept2} ms after the throttle was lifted`);
});

test('rebuild_ordering: a foreground write to a region being copied is never overwritten by older copied data', async () => {
  const { source, target, gate, map } = setup();
  await fillSource(source, 1);
  // Slow source reads: a copy holds old data for a while before writing it to the target.
  source.latency = 5;
  const job = new RebuildJob({ source, target, map, gate, blankTarget: true, parallel: 4 });
  const running = job.run();
  while (target.writes === 0) await new Promise((r) => setTimeout(r, 1));
  // Foreground writes, as the nexus sends them: wait out a locked region, then go to both children.
  const writes: Array<Promise<void>> = [];
  for (let lba = 0; lba < BLOCKS; lba += 128) {
    writes.push((async () => {
      for (let b = gate.blocker(lba, 8); b; b = gate.blocker(lba, 8)) await b;
      const epoch = gate.enter();
      const data = pattern(lba, 8, BS, 2);
      try {
        await Promise.all([source.write(lba, data, false), target.write(lba, data, false)]);
      } finally {
        gate.leave(epoch);
      }
    })());
  }
  await Promise.all([running, ...writes]);
  for (let lba = 0; lba < BLOCKS; lba += 128) {
    assert.ok(target.data.subarray(lba * BS, (lba + 8) * BS).equals(pattern(lba, 8, BS, 2)), `block ${lba} lost its foreground write`);
  }
  assert.ok(target.data.equals(source.data));
});
