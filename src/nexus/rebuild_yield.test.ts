import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RebuildJob } from './rebuild_job.ts';
import { RebuildMap } from './rebuild_map.ts';
import { WriteIntentMap } from './write_intent_map.ts';
import { NexusIoGate } from './nexus_io_gate.ts';
import { Nexus } from './nexus.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';
import { REBUILD_FULL_SPEED, type RebuildLimits } from './rebuild_throttle.ts';

const BS = 4096;
const MiB = 1024 * 1024;
const BLOCKS = (16 * MiB) / BS;

async function filled(): Promise<TestDevice> {
  const d = new TestDevice(BLOCKS, BS);
  for (let lba = 0; lba < BLOCKS; lba += 256) await d.write(lba, pattern(lba, 256, BS, 3), false);
  return d;
}

/** Target writes in flight at once, and the largest span locked at once. */
function watch(target: TestDevice, gate: NexusIoGate): { maxWrites: () => number; maxLock: () => number } {
  let now = 0;
  let max = 0;
  let maxLock = 0;
  const write = target.write.bind(target);
  target.write = (lba: number, data: Buffer, fua: boolean) => {
    max = Math.max(max, ++now);
    return write(lba, data, fua).finally(() => { now--; });
  };
  const lock = gate.lock.bind(gate);
  gate.lock = (lba: number, count: number) => { maxLock = Math.max(maxLock, count * BS); return lock(lba, count); };
  return { maxWrites: () => max, maxLock: () => maxLock };
}

/** A filled source, a blank slow target, a full map and a watched gate. */
async function setup(): Promise<{ source: TestDevice; target: TestDevice; map: RebuildMap; gate: NexusIoGate; w: ReturnType<typeof watch> }> {
  const source = await filled();
  const target = new TestDevice(BLOCKS, BS);
  target.latency = 1;
  const intents = new WriteIntentMap(BLOCKS, 64);
  intents.markAll();
  const gate = new NexusIoGate();
  return { source, target, map: new RebuildMap(intents), gate, w: watch(target, gate) };
}

test('rebuild_yield_job: while the limits say busy, one small span at a time at the given rate; it still finishes', async () => {
  const { source, target, map, gate, w } = await setup();
  let clock = 0;
  let slept = 0;
  const busy: RebuildLimits = { bytesPerSec: 8 * MiB, parallel: 1, spanBytes: MiB };
  const job = new RebuildJob({
    source, target, gate, map, blankTarget: true, parallel: 4, limits: () => busy,
    now: () => clock, sleep: (ms) => { clock += ms; slept += ms; return new Promise((r) => setImmediate(r)); },
  });
  await job.run();
  assert.ok(target.data.equals(source.data));
  assert.equal(w.maxWrites(), 1, 'one 1 MiB span in flight, as one chunk');
  assert.ok(w.maxLock() <= MiB, `locked ${w.maxLock()} bytes at once`);
  assert.ok(slept >= 1900, `16 MiB at 8 MiB/s took ${slept} ms of (fake) time`);
});

test('rebuild_yield_job: idle limits leave the configured parallelism and spans, with no sleeping', async () => {
  const { source, target, map, gate, w } = await setup();
  let slept = 0;
  const job = new RebuildJob({
    source, target, gate, map, blankTarget: true, parallel: 2, limits: () => REBUILD_FULL_SPEED,
    sleep: (ms) => { slept += ms; return Promise.resolve(); },
  });
  await job.run();
  assert.ok(target.data.equals(source.data));
  assert.equal(slept, 0);
  assert.equal(w.maxLock(), 8 * MiB, 'full 8 MiB spans');
  assert.ok(w.maxWrites() >= 9, `${w.maxWrites()} chunks in flight: two spans at once`);
});

test('rebuild_fine_copy: a resync after scattered 4 KiB writes copies those 4 KiB blocks only', async () => {
  const BLK = 2048; // 1 MiB of 512-byte blocks, 64 KiB regions
  const devs = [new TestDevice(BLK), new TestDevice(BLK)];
  const nexus = await Nexus.create({ name: 'v', generation: 1, children: devs.map((device, i) => ({ name: `r${i}`, device })), regionBytes: 64 * 1024 });
  nexus.faultChild('r1');
  let written = 0;
  for (let i = 0; i < 40; i++) {
    const lba = (i * 397) % (BLK - 8);
    await nexus.write(lba, pattern(lba, 8, 512, i), false);
    written += 8 * 512;
  }
  const before = devs[1].bytesWritten;
  const { job, done } = await nexus.addChild({ name: 'r1', device: devs[1] });
  assert.equal(await done, 'online');
  const copied = job.progress().bytesCopied;
  assert.equal(devs[1].bytesWritten - before, copied);
  assert.ok(copied > 0 && copied <= 2 * written, `copied ${copied} for ${written} written`);
  assert.ok(devs[1].data.equals(devs[0].data));
  nexus.close();
});

test('rebuild_yield_nexus: foreground I/O during a rebuild holds it to one span in flight; the rebuild still completes', async () => {
  const BLK = (8 * MiB) / 512;
  const devs = [new TestDevice(BLK), new TestDevice(BLK)];
  for (let lba = 0; lba < BLK; lba += 2048) await devs[0].write(lba, pattern(lba, 2048, 512, 1), false);
  for (let lba = 0; lba < BLK; lba += 2048) await devs[1].write(lba, pattern(lba, 2048, 512, 1), false);
  const nexus = await Nexus.create({ name: 'v', generation: 1, children: [{ name: 'r0', device: devs[0] }], rebuildParallel: 4, regionBytes: 64 * 1024 });
  const target = new TestDevice(BLK);
  target.latency = 1;
  let now = 0;
  let max = 0;
  const write = target.write.bind(target);
  let foreground = true;
  const fg = (async () => {
    for (let i = 0; foreground; i++) {
      const lba = (i * 977) % (BLK - 8);
      await nexus.write(lba, pattern(lba, 8, 512, 10 + i), false);
    }
  })();
  await new Promise((r) => setTimeout(r, 20));
  target.write = (lba: number, data: Buffer, fua: boolean) => {
    // Foreground writes are 4 KiB; rebuild chunks are larger.
    if (data.length > 4096) max = Math.max(max, ++now);
    return write(lba, data, fua).finally(() => { if (data.length > 4096) now--; });
  };
  const { done } = await nexus.addChild({ name: 'r1', device: target });
  assert.equal(await done, 'online');
  foreground = false;
  await fg;
  assert.equal(max, 1, `${max} rebuild chunks were in flight at once under foreground I/O`);
  assert.ok(target.data.equals(devs[0].data));
  nexus.close();
});

test('rebuild_fine_handed_back: a coarse map handed back at create (as the engine persists it) keeps its regions whole and tracks new writes by grain', async () => {
  const BLK = 2048; // 64 KiB regions of 512-byte blocks
  const devs = [new TestDevice(BLK), new TestDevice(BLK)];
  const saved = new WriteIntentMap(BLK, 128);
  saved.markRegion(1);
  const nexus = await Nexus.create({
    name: 'v', generation: 1, regionBytes: 64 * 1024,
    children: [{ name: 'r0', device: devs[0] }, { name: 'r1', device: devs[1], state: 'stale', intents: saved }],
  });
  await nexus.write(3 * 128 + 16, pattern(3 * 128 + 16, 8, 512, 5), false);
  const map = nexus.intentMap('r1')!;
  assert.equal(map.dirtyBlocks(), 128 + 8, 'region 1 whole, plus one 4 KiB grain of region 3');
  assert.ok(map.toBuffer().equals(Buffer.from([0b1010, 0])), 'what the engine saves: regions 1 and 3');
  nexus.close();
});
