import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogicalUnit } from '../scsi/logical_unit.ts';
import { writeBlocks, unmapBlocks } from '../scsi/lu_io.ts';
import { TestDevice } from '../nexus/nexus_test_devices.ts';
import type { HoldTimer } from '../nexus/index.ts';
import { errorCode } from '../util/errors.ts';
import { ExportWriteHolds } from './export_write_hold.ts';

const settle = async (): Promise<void> => { for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };

function manualTimer(): HoldTimer & { fire: () => void } {
  const timers = new Map<number, () => void>();
  let next = 0;
  return {
    set: (fn) => { timers.set(++next, fn); return next; },
    clear: (h) => { timers.delete(h as number); },
    fire: () => { const fns = [...timers.values()]; timers.clear(); for (const f of fns) f(); },
  };
}

function unit(): { lu: LogicalUnit; dev: TestDevice } {
  const dev = new TestDevice(1024);
  dev.latency = 20;
  return { lu: new LogicalUnit(0, { device: dev, naaId: '6001405000000000000000000000000a', serial: 'hold-test' }), dev };
}

test('export_write_hold: a pause waits for writes in flight, holds new writes and unmaps, and resume lets them go', async () => {
  const { lu, dev } = unit();
  const holds = new ExportWriteHolds(manualTimer());
  let early = false;
  const inFlight = writeBlocks(lu, 0, Buffer.alloc(512, 1), false).then(() => { early = true; });
  await holds.pause('p/v', lu, 't1', 1000);
  assert.equal(early || dev.writes === 1, true, 'the write in flight reached the device before the pause answered');
  await inFlight;
  let late = false;
  const held = writeBlocks(lu, 8, Buffer.alloc(512, 2), false).then(() => { late = true; });
  const unmapped = unmapBlocks(lu, 16, 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(late, false);
  assert.equal(dev.writes, 1, 'nothing new reached the device while paused');
  await assert.rejects(holds.pause('p/v', lu, 't2', 1000), (e) => errorCode(e) === 'NEXUS_PAUSE_BUSY');
  holds.resume('p/v', 't1');
  await held;
  await unmapped;
  assert.equal(dev.writes, 2);
  assert.throws(() => holds.resume('p/v', 't1'), (e) => errorCode(e) === 'NEXUS_PAUSE_LOST');
});

test('export_write_hold: the lease ends a forgotten pause; its resume then reports it lost', async () => {
  const { lu } = unit();
  const timer = manualTimer();
  const holds = new ExportWriteHolds(timer);
  await holds.pause('p/v', lu, 't', 500);
  let done = false;
  const w = writeBlocks(lu, 0, Buffer.alloc(512, 3), false).then(() => { done = true; });
  await settle();
  assert.equal(done, false);
  timer.fire();
  await w;
  assert.throws(() => holds.resume('p/v', 't'), (e) => errorCode(e) === 'NEXUS_PAUSE_LOST' && /lease ran out/.test((e as Error).message));
  await holds.pause('p/v', lu, 't3', 500);
  holds.resume('p/v', 't3');
});
