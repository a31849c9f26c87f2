import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Nexus } from './nexus.ts';
import { TestDevice, pattern } from './nexus_test_devices.ts';
import type { HoldTimer } from './nexus_write_hold.ts';
import { errorCode } from '../util/errors.ts';

const BLOCKS = 2048;
const BS = 512;
const settle = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };

/** A lease timer the test fires by hand. */
function manualTimer(): HoldTimer & { fire: () => void; pending: () => number } {
  const timers = new Map<number, () => void>();
  let next = 0;
  return {
    set: (fn) => { timers.set(++next, fn); return next; },
    clear: (h) => { timers.delete(h as number); },
    fire: () => { const fns = [...timers.values()]; timers.clear(); for (const f of fns) f(); },
    pending: () => timers.size,
  };
}

async function make(n: number, timer?: HoldTimer): Promise<{ nexus: Nexus; devs: TestDevice[] }> {
  const devs = Array.from({ length: n }, () => {
    const d = new TestDevice(BLOCKS, BS);
    d.latency = () => Math.floor(Math.random() * 4);
    return d;
  });
  const nexus = await Nexus.create({
    name: 'vol', generation: 1, children: devs.map((device, i) => ({ name: `r${i}`, device })), opTimeoutMs: 5000, ...(timer ? { holdTimer: timer } : {}),
  });
  return { nexus, devs };
}

/** Random writes from `workers` workers (never two in flight on one block); `acked` gets each write once it resolves. */
function load(nexus: Nexus, workers: number, acked: Buffer, stop: () => boolean): { done: Promise<void>; ackCount: () => number } {
  const busy = new Uint8Array(BLOCKS);
  let version = 1;
  let acks = 0;
  const worker = async (): Promise<void> => {
    while (!stop()) {
      const count = 1 + Math.floor(Math.random() * 8);
      const lba = Math.floor(Math.random() * (BLOCKS - count));
      if (busy.subarray(lba, lba + count).some((b) => b)) { await new Promise((r) => setImmediate(r)); continue; }
      busy.fill(1, lba, lba + count);
      const data = pattern(lba, count, BS, version++);
      await nexus.write(lba, data, false);
      data.copy(acked, lba * BS);
      acks++;
      busy.fill(0, lba, lba + count);
    }
  };
  return { done: Promise.all(Array.from({ length: workers }, worker)).then(() => undefined), ackCount: () => acks };
}

test('nexus_snapshot_barrier: under 16 writers, every in-sync child holds exactly the acknowledged writes while paused', async () => {
  const { nexus, devs } = await make(3);
  const acked = Buffer.alloc(BLOCKS * BS);
  let stop = false;
  const l = load(nexus, 16, acked, () => stop);
  for (let round = 0; round < 5; round++) {
    await new Promise((r) => setTimeout(r, 20));
    const { online } = await nexus.pauseWrites(`t${round}`, 10_000);
    assert.deepEqual(online, ['r0', 'r1', 'r2']);
    const cut = devs.map((d) => Buffer.from(d.data));
    // Acks of writes that drained into the cut run now; no new write may reach a child.
    await settle();
    const acksWhilePaused = l.ackCount();
    await settle();
    assert.equal(l.ackCount(), acksWhilePaused, 'no write completed while writes were held');
    for (const [i, c] of cut.entries()) {
      assert.ok(c.equals(acked), `child ${i}'s cut is exactly the acknowledged writes`);
      assert.ok(devs[i].data.equals(c), `child ${i} took no write while paused`);
    }
    nexus.resumeWrites(`t${round}`);
  }
  stop = true;
  await l.done;
  assert.ok(l.ackCount() > 0);
  nexus.close();
});

test('nexus_snapshot_barrier: the lease ends a forgotten pause; its owner then learns the cut is not one point in time', async () => {
  const timer = manualTimer();
  const { nexus, devs } = await make(2, timer);
  await nexus.pauseWrites('a', 500);
  let written = false;
  const w = nexus.write(0, pattern(0, 1, BS, 7), false).then(() => { written = true; });
  await settle();
  assert.equal(written, false, 'a write waits while paused');
  await nexus.flush(); // flushes change no data and are not held
  timer.fire();
  await w;
  assert.ok(devs[0].data.subarray(0, BS).equals(pattern(0, 1, BS, 7)));
  assert.throws(() => nexus.resumeWrites('a'), (e) => errorCode(e) === 'NEXUS_PAUSE_LOST' && /lease ran out/.test((e as Error).message));
  nexus.close();
});

test('nexus_snapshot_barrier: one pause at a time; resume with an unknown token is refused; close releases held writes with an error', async () => {
  const timer = manualTimer();
  const { nexus } = await make(2, timer);
  await nexus.pauseWrites('a', 1000);
  await assert.rejects(nexus.pauseWrites('b', 1000), (e) => errorCode(e) === 'NEXUS_PAUSE_BUSY');
  assert.throws(() => nexus.resumeWrites('b'), (e) => errorCode(e) === 'NEXUS_PAUSE_LOST');
  nexus.resumeWrites('a');
  assert.equal(timer.pending(), 0, 'the lease timer is cleared on resume');
  await nexus.write(0, pattern(0, 1, BS, 1), false);
  await nexus.pauseWrites('c', 1000);
  const held = nexus.write(1, pattern(1, 1, BS, 1), false);
  nexus.close();
  await assert.rejects(held, (e) => errorCode(e) === 'DEVICE_GONE');
  assert.throws(() => nexus.resumeWrites('c'), (e) => errorCode(e) === 'NEXUS_PAUSE_LOST');
});

test('nexus_snapshot_barrier: a degraded nexus names only its in-sync children', async () => {
  const { nexus, devs } = await make(3);
  devs[1].mode = 'error';
  await nexus.write(0, pattern(0, 4, BS, 1), false);
  const { online } = await nexus.pauseWrites('d', 1000);
  assert.deepEqual(online, ['r0', 'r2']);
  nexus.resumeWrites('d');
  nexus.close();
});
