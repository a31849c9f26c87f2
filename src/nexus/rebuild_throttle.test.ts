import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RebuildThrottle, REBUILD_FULL_SPEED, REBUILD_THROTTLE_TUNING as T } from './rebuild_throttle.ts';

const MiB = 1024 * 1024;

/** A throttle on a fake clock, and a way to play foreground I/O of a given latency for a while. */
function rig(mode: 'adaptive' | 'fixed' = 'adaptive') {
  let clock = 10_000;
  const th = new RebuildThrottle(mode, () => clock);
  return {
    th,
    advance: (ms: number) => { clock += ms; },
    /** `ms` of foreground I/O, one op every 5 ms, each taking `latency(t)` ms. */
    play: (ms: number, latency: (t: number) => number) => {
      for (let t = 0; t < ms; t += 5) { clock += 5; th.foreground(latency(t)); }
    },
  };
}

test('rebuild_throttle_idle: with no foreground I/O the rebuild runs at full speed', () => {
  const { th, advance } = rig();
  assert.deepEqual(th.limits(), REBUILD_FULL_SPEED);
  advance(60_000);
  assert.deepEqual(th.limits(), REBUILD_FULL_SPEED);
});

test('rebuild_throttle_busy: with foreground I/O active the rebuild drops to one span in flight at the start rate or less', () => {
  const { th, play } = rig();
  play(20, () => 1);
  const l = th.limits();
  assert.equal(l.parallel, 1);
  assert.ok(l.spanBytes <= T.busySpanBytes);
  assert.ok(l.bytesPerSec > 0 && l.bytesPerSec <= T.startBytesPerSec, `rate ${l.bytesPerSec}`);
});

test('rebuild_throttle_latency: foreground latency above the target halves the rate down to the floor, never to zero', () => {
  const { th, play } = rig();
  play(1000, () => 1); // baseline 1 ms
  play(5000, () => 40); // the rebuild hurts: 40 ms per op
  const l = th.limits();
  assert.equal(l.bytesPerSec, T.floorBytesPerSec, 'at the floor');
  assert.ok(l.bytesPerSec >= 8 * MiB, 'the floor keeps the rebuild going');
  play(10_000, () => 1000);
  assert.equal(th.limits().bytesPerSec, T.floorBytesPerSec, 'never below the floor, however slow the foreground');
});

test('rebuild_throttle_recovers: latency back under the target lets the rate grow, up to the busy maximum', () => {
  const { th, play } = rig();
  play(1000, () => 1);
  play(3000, () => 40);
  assert.equal(th.limits().bytesPerSec, T.floorBytesPerSec);
  play(10_000, () => 1);
  assert.equal(th.limits().bytesPerSec, T.busyMaxBytesPerSec);
});

test('rebuild_throttle_resume: once foreground I/O stops for idleMs the rebuild is back at full speed, and a new burst starts over', () => {
  const { th, play, advance } = rig();
  play(1000, () => 1);
  play(3000, () => 40);
  advance(T.idleMs - 1);
  assert.equal(th.limits().parallel, 1);
  advance(1);
  assert.deepEqual(th.limits(), REBUILD_FULL_SPEED);
  play(10, () => 1);
  assert.equal(th.limits().bytesPerSec, T.startBytesPerSec);
});

test('rebuild_throttle_fixed: mode fixed ignores foreground I/O (only the cap applies)', () => {
  const { th, play } = rig('fixed');
  play(1000, () => 100);
  assert.deepEqual(th.limits(), REBUILD_FULL_SPEED);
  th.mode = 'adaptive';
  play(10, () => 100);
  assert.equal(th.limits().parallel, 1, 'switching mode applies at once');
});

test('rebuild_throttle_seen: foreground I/O seen just before a rebuild starts makes it yield from the first span', () => {
  const { th, advance } = rig();
  th.seenAt(10_000 - 50);
  assert.equal(th.limits().parallel, 1);
  advance(T.idleMs);
  assert.deepEqual(th.limits(), REBUILD_FULL_SPEED);
  th.seenAt(0); // long ago: no effect
  assert.deepEqual(th.limits(), REBUILD_FULL_SPEED);
});

test('rebuild_throttle_quiet: the latency measured before the rebuild is the baseline, so a rebuild that triples it from the start is held down', () => {
  const sampled = rig();
  for (let i = 0; i < 32; i++) sampled.th.quiet(1);
  sampled.play(2000, () => 3);
  assert.equal(sampled.th.limits().bytesPerSec, T.floorBytesPerSec, '3 ms against a 1 ms baseline: down to the floor');
  // Without samples the first interval under the rebuild is all it knows, and 3 ms looks normal.
  const blind = rig();
  blind.play(2000, () => 3);
  assert.ok(blind.th.limits().bytesPerSec > T.startBytesPerSec);
});
