import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Nexus } from './nexus.ts';
import type { NexusEvent } from './nexus_events.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';
import { StaleGenerationError } from '../replica/replica_errors.ts';
import type { NexusChildSpec } from './nexus_child.ts';
import { WriteIntentMap } from './write_intent_map.ts';
import { MemoryBlockDevice } from '../block/memory_device.ts';
import { runOnMockedTimers } from './nexus_virtual_clock.ts';

const BLOCKS = 2048; // 1 MiB of 512-byte blocks
const REGION = 64 * 1024; // 16 regions

function devices(n: number, jitter = 0): TestDevice[] {
  return Array.from({ length: n }, () => {
    const d = new TestDevice(BLOCKS);
    if (jitter) d.latency = () => Math.floor(Math.random() * jitter);
    return d;
  });
}

function specs(devs: TestDevice[]): NexusChildSpec[] {
  return devs.map((device, i) => ({ name: `r${i}`, device }));
}

async function make(devs: TestDevice[], opts: { opTimeoutMs?: number } = {}): Promise<{ nexus: Nexus; events: NexusEvent[] }> {
  const nexus = await Nexus.create({ name: 'vol', generation: 1, children: specs(devs), regionBytes: REGION, opTimeoutMs: opts.opTimeoutMs ?? 2000 });
  const events: NexusEvent[] = [];
  nexus.on((e) => events.push(e));
  return { nexus, events };
}

/** Random writes and unmaps, many in flight, never two in flight on one block. */
async function randomLoad(nexus: Nexus, ops: number, inFlight: number, stopWhen?: () => boolean): Promise<number> {
  const busy = new Uint8Array(BLOCKS);
  let issued = 0;
  let version = 1;
  const worker = async (): Promise<void> => {
    while (issued < ops && !(stopWhen?.())) {
      const count = 1 + Math.floor(Math.random() * 16);
      const lba = Math.floor(Math.random() * (BLOCKS - count));
      if (busy.subarray(lba, lba + count).some((b) => b)) { await new Promise((r) => setImmediate(r)); continue; }
      busy.fill(1, lba, lba + count);
      issued++;
      if (Math.random() < 0.1) await nexus.unmap(lba, count);
      else await nexus.write(lba, pattern(lba, count, 512, version++), Math.random() < 0.1);
      busy.fill(0, lba, lba + count);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return issued;
}

function assertIdentical(devs: TestDevice[]): void {
  for (let i = 1; i < devs.length; i++) assert.ok(devs[0].data.equals(devs[i].data), `child ${i} differs from child 0`);
}

test('nexus_mirror: concurrent random writes leave 3 children byte-identical and readable', async () => {
  const devs = devices(3, 3);
  const { nexus } = await make(devs);
  await randomLoad(nexus, 400, 16);
  await nexus.flush();
  assertIdentical(devs);
  assert.ok((await nexus.read(0, BLOCKS)).equals(devs[0].data));
  assert.equal(nexus.state, 'online');
  nexus.close();
});

test('nexus_child_error: a failing child is retired and the caller sees no error', async () => {
  const devs = devices(3);
  const { nexus, events } = await make(devs);
  devs[1].failAfter = 5;
  await randomLoad(nexus, 60, 4);
  assert.deepEqual(nexus.children().map((c) => c.state), ['online', 'faulted', 'online']);
  assert.equal(nexus.state, 'degraded');
  assert.ok(events.some((e) => e.type === 'child-state' && e.child === 'r1' && e.to === 'faulted'));
  assert.ok(events.some((e) => e.type === 'nexus-state' && e.to === 'degraded'));
  assertIdentical([devs[0], devs[2]]);
  nexus.close();
});

// Op deadlines run on mocked timers (runOnMockedTimers): a loaded host cannot make a healthy child miss one.
test('nexus_child_timeout: a hung child is retired within the op timeout', (t) => runOnMockedTimers(t.mock.timers, async () => {
  const devs = devices(2);
  const { nexus } = await make(devs, { opTimeoutMs: 150 });
  devs[0].mode = 'hang';
  const t0 = Date.now();
  await nexus.write(0, pattern(0, 8, 512, 1), false);
  const reads = await Promise.all([1, 2, 3, 4].map(() => nexus.read(0, 8)));
  const took = Date.now() - t0;
  assert.ok(took >= 150 && took < 400, `took ${took} ms of mocked time`);
  assert.equal(nexus.children()[0].state, 'faulted');
  assert.equal(nexus.children()[1].state, 'online');
  for (const r of reads) assert.ok(r.equals(pattern(0, 8, 512, 1)));
  nexus.close();
}));

test('nexus_read_retry: a read error moves the read to another child', async () => {
  const devs = devices(2);
  const { nexus } = await make(devs);
  await nexus.write(0, pattern(0, 4, 512, 7), false);
  devs[0].mode = 'error';
  devs[1].mode = 'ok';
  for (let i = 0; i < 4; i++) assert.ok((await nexus.read(0, 4)).equals(pattern(0, 4, 512, 7)));
  assert.equal(nexus.children()[0].state, 'faulted');
  nexus.close();
});

test('nexus_faulted: with no child left the I/O fails with NEXUS_FAULTED', async () => {
  const devs = devices(2);
  const { nexus } = await make(devs);
  devs[0].mode = 'error';
  devs[1].mode = 'error';
  await assert.rejects(nexus.write(0, pattern(0, 1, 512, 1), false), { code: 'NEXUS_FAULTED' });
  assert.equal(nexus.state, 'faulted');
  await assert.rejects(nexus.read(0, 1), { code: 'NEXUS_FAULTED' });
  nexus.close();
});

test('nexus I/O outside the volume is refused without retiring anyone', async () => {
  const { nexus } = await make(devices(2));
  await assert.rejects(nexus.write(BLOCKS - 1, Buffer.alloc(1024), false), { code: 'OUT_OF_RANGE' });
  await assert.rejects(nexus.read(BLOCKS, 1), { code: 'OUT_OF_RANGE' });
  assert.equal(nexus.state, 'online');
  nexus.close();
});

test('nexus_rebuild: a new child rebuilt under concurrent writes converges', async () => {
  const devs = devices(2, 2);
  const { nexus, events } = await make(devs);
  await randomLoad(nexus, 150, 8);
  const fresh = new TestDevice(BLOCKS);
  fresh.latency = () => Math.floor(Math.random() * 2);
  const { job, done } = await nexus.addChild({ name: 'r2', device: fresh }, { blankTarget: true });
  let finished = false;
  const load = randomLoad(nexus, 100_000, 8, () => finished);
  const outcome = await done;
  finished = true;
  await load;
  assert.equal(outcome, 'online');
  await nexus.flush();
  assertIdentical([...devs, fresh]);
  const p = job.progress();
  assert.equal(p.bytesDone, p.bytesTotal);
  assert.ok(p.bytesCopied > 0);
  assert.ok(events.some((e) => e.type === 'child-state' && e.child === 'r2' && e.from === 'rebuilding' && e.to === 'online'));
  assert.equal(nexus.state, 'online');
  nexus.close();
});

test('nexus_rebuild_partial: a returning child copies only the regions written while it was away', async () => {
  const devs = devices(3);
  const { nexus } = await make(devs);
  await randomLoad(nexus, 100, 4);
  devs[2].mode = 'error';
  await nexus.write(0, pattern(0, 8, 512, 99), false); // retires r2
  assert.equal(nexus.children()[2].state, 'faulted');
  // Dirtied while away: a 4 KiB grain of region 0 (above), one of region 5, and region 9 whole.
  await nexus.write(5 * 128 + 3, pattern(5 * 128 + 3, 2, 512, 100), false);
  await nexus.write(9 * 128, pattern(9 * 128, 128, 512, 101), false);
  assert.equal(nexus.children()[2].missingBytes, 4096 + 4096 + REGION);
  devs[2].mode = 'ok';
  const before = devs[2].bytesWritten;
  const { job, done } = await nexus.addChild({ name: 'r2', device: devs[2] });
  assert.equal(await done, 'online');
  const copied = devs[2].bytesWritten - before;
  assert.ok(copied <= 4096 + 4096 + REGION && copied > 0, `copied ${copied}`);
  assert.equal(job.progress().bytesCopied, copied);
  assertIdentical(devs);
  nexus.close();
});

test('nexus_rebuild_target_fails: the target is retired and the volume keeps serving', async () => {
  const devs = devices(2);
  const { nexus } = await make(devs);
  await randomLoad(nexus, 50, 4);
  const bad = new TestDevice(BLOCKS);
  bad.failAfter = 3;
  const { done } = await nexus.addChild({ name: 'r2', device: bad });
  assert.equal(await done, 'faulted');
  await nexus.write(0, pattern(0, 1, 512, 5), false);
  assert.equal(nexus.state, 'degraded');
  nexus.close();
});

test('nexus_rebuild_throttle: copying is held to the byte rate', async () => {
  const devs = devices(1);
  const { nexus } = await make(devs);
  await nexus.write(0, pattern(0, 512, 512, 1), false); // 256 KiB in 4 regions
  const t0 = Date.now();
  const { done } = await nexus.addChild({ name: 'r1', device: new TestDevice(BLOCKS) }, { blankTarget: true, throttleBytesPerSec: 1024 * 1024 });
  assert.equal(await done, 'online');
  const took = Date.now() - t0;
  assert.ok(took >= 180, `256 KiB at 1 MiB/s took only ${took} ms`);
  nexus.close();
});

/** A device that answers like a replica fenced by a newer nexus. */
class FencedDevice extends TestDevice {
  fencedAt = 0;
  async fence(generation: number): Promise<void> {
    if (generation < this.fencedAt) throw new StaleGenerationError(this.fencedAt);
    this.fencedAt = generation;
  }
}

test('nexus_fencing: a stale generation at create is refused', async () => {
  const d = new FencedDevice(BLOCKS);
  d.fencedAt = 5;
  await assert.rejects(Nexus.create({ name: 'vol', generation: 4, children: [{ name: 'r0', device: d }] }), { code: 'NEXUS_FENCED' });
});

test('nexus_fencing: a child answering STALE_GENERATION fences the nexus, no write is acked', async () => {
  const devs = devices(2);
  const { nexus, events } = await make(devs);
  devs[0].mode = 'error';
  devs[0].error = new StaleGenerationError(2);
  await assert.rejects(nexus.write(0, pattern(0, 1, 512, 1), false), { code: 'NEXUS_FENCED' });
  assert.equal(nexus.state, 'fenced');
  await assert.rejects(nexus.write(0, pattern(0, 1, 512, 1), false), { code: 'NEXUS_FENCED' });
  await assert.rejects(nexus.read(0, 1), { code: 'NEXUS_FENCED' });
  assert.ok(events.some((e) => e.type === 'nexus-state' && e.to === 'fenced'));
  nexus.close();
});

test('nexus membership rules: unique names, block sizes, last in-sync replica', async () => {
  await assert.rejects(Nexus.create({ name: 'v', generation: 1, children: [] }), { code: 'NEXUS_CHILD_INVALID' });
  await assert.rejects(Nexus.create({ name: 'v', generation: 1, children: [{ name: 'a', device: new TestDevice(8) }, { name: 'a', device: new TestDevice(8) }] }), { code: 'NEXUS_CHILD_INVALID' });
  await assert.rejects(Nexus.create({ name: 'v', generation: 1, children: [{ name: 'a', device: new TestDevice(8) }, { name: 'b', device: new TestDevice(8, 4096) }] }), { code: 'NEXUS_CHILD_INVALID' });
  const { nexus } = await make(devices(2));
  await assert.rejects(nexus.addChild({ name: 'r0', device: new TestDevice(BLOCKS) }), { code: 'NEXUS_CHILD_INVALID' });
  await assert.rejects(nexus.addChild({ name: 'small', device: new TestDevice(BLOCKS - 1) }), { code: 'NEXUS_CHILD_INVALID' });
  nexus.removeChild('r1', { keepIntents: true });
  assert.throws(() => nexus.removeChild('r0'), { code: 'NEXUS_CHILD_INVALID' });
  await nexus.write(200, pattern(200, 1, 512, 1), false);
  assert.equal(nexus.intentMap('r1')?.dirtyRegions, 1);
  nexus.close();
});

test('nexus_stale_child: a child that missed writes serves no read until rebuilt, then resyncs its map only', async () => {
  const devs = devices(2);
  await devs[0].write(0, pattern(0, 256, 512, 1), false);
  await devs[1].write(0, pattern(0, 256, 512, 1), false);
  await devs[0].write(300, pattern(300, 8, 512, 2), false); // r1 missed this (region 2)
  const missed = new WriteIntentMap(BLOCKS, REGION / 512);
  missed.mark(300, 8);
  const nexus = await Nexus.create({
    name: 'vol', generation: 1, regionBytes: REGION,
    children: [{ name: 'r0', device: devs[0] }, { name: 'r1', device: devs[1], state: 'stale', intents: missed }],
  });
  assert.equal(nexus.state, 'degraded');
  devs[1].mode = 'error'; // any read reaching r1 would retire it
  for (let i = 0; i < 6; i++) assert.ok((await nexus.read(300, 8)).equals(pattern(300, 8, 512, 2)));
  await nexus.write(1000, pattern(1000, 1, 512, 3), false); // region 7, also missed by r1
  assert.equal(nexus.children()[1].state, 'stale');
  devs[1].mode = 'ok';
  const before = devs[1].bytesWritten;
  const { done } = await nexus.rebuildChild('r1');
  assert.equal(await done, 'online');
  assert.ok(devs[1].bytesWritten - before <= 2 * REGION);
  assertIdentical(devs);
  nexus.close();
});

test('nexus_rebuild_cancel: a cancelled rebuild leaves the child stale, and it can resume', async () => {
  const devs = devices(1);
  const { nexus } = await make(devs);
  await nexus.write(0, pattern(0, BLOCKS, 512, 1), false);
  const target = new TestDevice(BLOCKS);
  const { job, done } = await nexus.addChild({ name: 'r1', device: target }, { throttleBytesPerSec: 256 * 1024 });
  nexus.cancelRebuild('r1');
  assert.equal(await done, 'stale');
  assert.ok(job.progress().bytesDone < BLOCKS * 512);
  const again = await nexus.rebuildChild('r1');
  nexus.setRebuildThrottle(0);
  assert.equal(await again.done, 'online');
  assertIdentical([devs[0], target]);
  nexus.close();
});

test('nexus_rebuild_target_hangs: the target is retired within the op timeout and no region stays locked', { timeout: 60_000 }, (t) => runOnMockedTimers(t.mock.timers, async () => {
  const devs = devices(1);
  const { nexus } = await make(devs, { opTimeoutMs: 150 });
  await nexus.write(0, pattern(0, BLOCKS, 512, 1), false);
  const target = new TestDevice(BLOCKS);
  const { done } = await nexus.addChild({ name: 'r1', device: target });
  target.mode = 'hang';
  const t0 = Date.now();
  assert.equal(await done, 'faulted');
  assert.ok(Date.now() - t0 < 1000, `retired after ${Date.now() - t0} ms of mocked time`);
  // Every region is writable again at once.
  await Promise.all(Array.from({ length: 16 }, (_, r) => nexus.write(r * 128, pattern(r * 128, 1, 512, 2), false)));
  nexus.close();
}));

test('nexus_child_no_space: a replica whose pool fills up is retired, the volume keeps writing', async () => {
  const roomy = new MemoryBlockDevice({ blockCount: BLOCKS });
  const tight = new MemoryBlockDevice({ blockCount: BLOCKS, capacityLimitBytes: 128 * 1024 });
  const nexus = await Nexus.create({ name: 'vol', generation: 1, children: [{ name: 'a', device: roomy }, { name: 'b', device: tight }] });
  for (let lba = 0; lba < BLOCKS; lba += 128) await nexus.write(lba, pattern(lba, 128, 512, 1), false);
  assert.equal(nexus.children()[1].state, 'faulted');
  assert.match(nexus.children()[1].reason ?? '', /space/);
  assert.ok((await nexus.read(0, BLOCKS)).equals(pattern(0, BLOCKS, 512, 1)));
  nexus.close();
});

test('nexus_rebuild_thin: a full rebuild of a thin volume copies only the written extents', async () => {
  const devs = devices(1);
  const { nexus } = await make(devs);
  for (const lba of [0, 700, 1500]) await nexus.write(lba, pattern(lba, 8, 512, 1), false);
  await nexus.unmap(700, 4);
  const fresh = new TestDevice(BLOCKS);
  const { job, done } = await nexus.addChild({ name: 'r1', device: fresh }, { blankTarget: true });
  assert.equal(await done, 'online');
  assert.equal(job.progress().bytesCopied, (8 + 4 + 8) * 512);
  assert.equal(job.progress().bytesTotal, BLOCKS * 512);
  assertIdentical([devs[0], fresh]);
  nexus.close();
});
