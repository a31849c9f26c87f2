import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlockDevice } from './memory_device.ts';
import { MediumError } from './errors.ts';
import { errorCode } from '../util/errors.ts';

test('unwritten blocks read as zeros and writes read back', async () => {
  const d = new MemoryBlockDevice({ blockCount: 1000, chunkBlocks: 8 });
  assert.deepEqual(await d.read(5, 2), Buffer.alloc(1024));
  const data = Buffer.alloc(10 * 512, 0xab);
  await d.write(3, data, false);
  assert.deepEqual(await d.read(3, 10), data);
  assert.deepEqual((await d.read(2, 1))[0], 0);
});

test('unmap zeroes blocks, frees whole chunks, and mapStatus follows it', async () => {
  const d = new MemoryBlockDevice({ blockCount: 64, chunkBlocks: 8 });
  await d.write(0, Buffer.alloc(16 * 512, 1), false);
  assert.equal(d.allocatedBytes, 2 * 8 * 512);
  await d.unmap(0, 9);
  assert.equal(d.allocatedBytes, 8 * 512);
  assert.deepEqual(await d.read(0, 9), Buffer.alloc(9 * 512));
  assert.deepEqual(await d.mapStatus(0, 64), { mapped: false, count: 9 });
  assert.deepEqual(await d.mapStatus(9, 64 - 9), { mapped: true, count: 7 });
  assert.deepEqual(await d.mapStatus(16, 48), { mapped: false, count: 48 });
});

test('a thin device past its capacity limit fails with NO_SPACE and changes nothing', async () => {
  const d = new MemoryBlockDevice({ blockCount: 64, chunkBlocks: 8, capacityLimitBytes: 8 * 512 });
  await d.write(0, Buffer.alloc(512, 1), false);
  await assert.rejects(d.write(8, Buffer.alloc(512, 2), false), (e) => errorCode(e) === 'NO_SPACE');
  assert.deepEqual(await d.read(8, 1), Buffer.alloc(512));
  await d.write(1, Buffer.alloc(512, 3), false);
});

test('out-of-range I/O is rejected with OUT_OF_RANGE', async () => {
  const d = new MemoryBlockDevice({ blockCount: 10 });
  await assert.rejects(d.read(9, 2), (e) => errorCode(e) === 'OUT_OF_RANGE');
  await assert.rejects(d.write(10, Buffer.alloc(512), false), (e) => errorCode(e) === 'OUT_OF_RANGE');
});

test('resize grows the device and a shrink drops the blocks cut off', async () => {
  const d = new MemoryBlockDevice({ blockCount: 16, chunkBlocks: 8 });
  await d.write(12, Buffer.alloc(512, 9), false);
  d.resize(32);
  assert.equal(d.blockCount, 32);
  await d.write(31, Buffer.alloc(512, 1), false);
  d.resize(12);
  d.resize(16);
  assert.deepEqual(await d.read(12, 1), Buffer.alloc(512));
});

test('injected faults reject the next matching calls only', async () => {
  const d = new MemoryBlockDevice({ blockCount: 16 });
  d.injectFault({ op: 'read', error: new MediumError('bad sector'), times: 2 });
  await assert.rejects(d.read(0, 1), (e) => errorCode(e) === 'MEDIUM_ERROR');
  await assert.rejects(d.read(0, 1), (e) => errorCode(e) === 'MEDIUM_ERROR');
  await d.read(0, 1);
  d.close();
  await assert.rejects(d.flush(), (e) => errorCode(e) === 'DEVICE_GONE');
});

test('a thick device reports every block mapped and counts FUA writes', async () => {
  const d = new MemoryBlockDevice({ blockCount: 16, thin: false });
  assert.deepEqual(await d.mapStatus(0, 16), { mapped: true, count: 16 });
  await d.write(0, Buffer.alloc(512), true);
  assert.equal(d.stats.fuaWrites, 1);
});
