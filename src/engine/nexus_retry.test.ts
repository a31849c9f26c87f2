import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../util/log.ts';
import { NEXUS_REBUILD_RETRY_MAX_MS, NEXUS_RETRY_MAX_MS, NEXUS_RETRY_MIN_MS, NEXUS_RETRY_STABLE_MS, NexusRetrier } from './nexus_retry.ts';
import { ManualClock, microtasks } from './retry_test_clock.ts';

const settle = microtasks;

test('nexus_retry: a replica whose rebuild keeps failing (pool full) is retried with a growing, capped delay', async () => {
  const clock = new ManualClock();
  const attempts: number[] = [];
  // Each attempt reconnects fine; the rebuild then fails and retires the child again, as with a full pool.
  const retrier: NexusRetrier = new NexusRetrier(async () => {
    attempts.push(clock.now());
    queueMicrotask(() => {
      retrier.due('v', 'c');
      retrier.failed('v', 'c', new Error('NO_SPACE: pool is full'));
    });
  }, silentLogger(), clock);
  retrier.due('v', 'c');
  await clock.advance(70_000);
  // Today's retrier started over at 500 ms after each successful reconnect: ~113 cycles in 70 s.
  assert.ok(attempts.length <= 8, `${attempts.length} attempts in 70 s: ${attempts.join(', ')}`);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
  for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i] >= gaps[i - 1], `delays grow: ${gaps.join(', ')}`);
  const s = retrier.status('v', 'c');
  assert.match(s?.lastError ?? '', /pool is full/);
  assert.ok(s?.retryAt !== undefined && s.retryAt > clock.now(), 'the next attempt is planned and visible');
  // The cap holds however long it stays full.
  await clock.advance(3_600_000);
  const late = attempts.slice(-3);
  assert.equal(late[2] - late[1], NEXUS_REBUILD_RETRY_MAX_MS);
  retrier.close();
});

test('nexus_retry: an unreachable replica backs off to the reconnect cap', async () => {
  const clock = new ManualClock();
  const attempts: number[] = [];
  const retrier = new NexusRetrier(async () => {
    attempts.push(clock.now());
    throw new Error('connect timed out');
  }, silentLogger(), clock);
  retrier.due('v', 'c');
  await clock.advance(60_000);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
  assert.equal(attempts[0], NEXUS_RETRY_MIN_MS);
  assert.deepEqual(gaps.slice(0, 4), [1000, 2000, 4000, 8000]);
  assert.ok(gaps.every((g) => g <= NEXUS_RETRY_MAX_MS));
  assert.match(retrier.status('v', 'c')?.lastError ?? '', /connect timed out/);
  retrier.close();
});

test('nexus_retry: a child retired again while its reconnect is still running is retried after it (no lost wake-up)', async () => {
  const clock = new ManualClock();
  let calls = 0;
  let release!: () => void;
  const retrier = new NexusRetrier(() => {
    calls++;
    if (calls === 1) return new Promise<void>((r) => { release = r; });
    return Promise.resolve();
  }, silentLogger(), clock);
  retrier.due('v', 'c');
  await clock.advance(NEXUS_RETRY_MIN_MS);
  assert.equal(calls, 1);
  // The rebuild started by this reconnect fails and retires the child before the reconnect call returns.
  retrier.due('v', 'c');
  retrier.failed('v', 'c', new Error('NO_SPACE'));
  release();
  await settle();
  assert.ok(clock.pending.length === 1, 'another attempt is planned');
  await clock.advance(60_000);
  assert.equal(calls, 2, 'the child was tried again');
  retrier.close();
});

test('nexus_retry: the backoff starts over only after the replica stayed online', async () => {
  const clock = new ManualClock();
  const attempts: number[] = [];
  const retrier = new NexusRetrier(async () => { attempts.push(clock.now()); }, silentLogger(), clock);
  retrier.due('v', 'c');
  await clock.advance(1_000);
  retrier.failed('v', 'c', new Error('rebuild failed'));
  await clock.advance(10_000);
  retrier.failed('v', 'c', new Error('rebuild failed'));
  await clock.advance(10_000);
  const before = attempts.length;
  // Online briefly, then retired again: keeps the grown delay.
  retrier.healed('v', 'c');
  await clock.advance(1_000);
  retrier.due('v', 'c');
  assert.ok(clock.pending[0] > NEXUS_RETRY_MIN_MS, `delay ${clock.pending[0]}`);
  await clock.advance(60_000);
  assert.equal(attempts.length, before + 1);
  // Online for longer than the stable period: the next failure is retried at once again.
  retrier.healed('v', 'c');
  await clock.advance(NEXUS_RETRY_STABLE_MS);
  retrier.due('v', 'c');
  assert.deepEqual(clock.pending, [NEXUS_RETRY_MIN_MS]);
  assert.equal(retrier.status('v', 'c')?.lastError, undefined);
  retrier.close();
});
