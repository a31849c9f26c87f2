import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IoStats, LATENCY_BUCKETS_SECONDS } from './io_stats.ts';
import { buildSense } from './sense.ts';
import type { ScsiTask } from './types.ts';

const task = (cdb: number[], dataOut?: Buffer): ScsiTask => ({ cdb: Buffer.from(cdb), dataOut } as unknown as ScsiTask);

function unmapList(blocks: number[]): Buffer {
  const list = Buffer.alloc(8 + 16 * blocks.length);
  list.writeUInt16BE(6 + 16 * blocks.length, 0);
  list.writeUInt16BE(16 * blocks.length, 2);
  blocks.forEach((n, i) => list.writeUInt32BE(n, 8 + 16 * i + 8));
  return list;
}

test('reads, writes and unmaps are counted apart, with their bytes', () => {
  const s = new IoStats(512);
  s.finish(task([0x28]), { status: 0, data: Buffer.alloc(4096) }, s.start());
  s.finish(task([0x8a], Buffer.alloc(8192)), { status: 0 }, s.start());
  s.finish(task([0x42], unmapList([8, 16])), { status: 0 }, s.start());
  s.finish(task([0x12]), { status: 0, data: Buffer.alloc(36) }, s.start());
  assert.deepEqual([...s.ops], [1, 1, 1, 1]);
  assert.deepEqual([...s.bytes], [4096, 8192, 24 * 512, 0]);
  assert.equal(s.inFlight, 0);
});

test('a command in progress is in flight until it finishes', () => {
  const s = new IoStats(512);
  const t0 = s.start();
  assert.equal(s.inFlight, 1);
  s.finish(task([0x28]), { status: 0 }, t0);
  assert.equal(s.inFlight, 0);
});

test('latency lands in the first bucket whose bound it does not exceed; +Inf catches the rest', () => {
  const s = new IoStats(512);
  const now = performance.now();
  s.finish(task([0x28]), { status: 0 }, now + 1); // just started: the first bucket
  s.finish(task([0x28]), { status: 0 }, now - 3);    // ~3 ms: the 5 ms bucket
  s.finish(task([0x28]), { status: 0 }, now - 60_000);
  const cum = s.cumulativeBuckets(0);
  assert.equal(cum.length, LATENCY_BUCKETS_SECONDS.length + 1);
  assert.equal(cum[0], 1);
  const fiveMs = LATENCY_BUCKETS_SECONDS.indexOf(0.005);
  assert.equal(cum[fiveMs - 1], 1);
  assert.equal(cum[fiveMs], 2);
  assert.equal(cum[cum.length - 2], 2);
  assert.equal(cum[cum.length - 1], 3);
  assert.ok(s.latencySum[0] >= 60);
});

test('CHECK CONDITION is counted by sense key, other bad statuses apart; failed I/O moves no bytes', () => {
  const s = new IoStats(512);
  s.finish(task([0x2a], Buffer.alloc(512)), { status: 2, sense: buildSense(0x07, 0x2700) }, s.start());
  s.finish(task([0x28]), { status: 0x18 }, s.start());
  assert.equal(s.senseErrors[0x07], 1);
  assert.equal(s.statusErrors, 1);
  assert.deepEqual([...s.bytes], [0, 0, 0, 0]);
  assert.deepEqual([...s.ops], [1, 1, 0, 0]);
});
