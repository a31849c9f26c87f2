import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKOFF_MAX_MS, BACKOFF_MIN_MS, DEFAULT_ASYNC_MIN_BYTES, FAST_CALL_CREDIT, IoMode, IoPolicy, isIoMode,
  SLOW_SCORE_LIMIT, SLOW_SYNC_BASE_MS, SLOW_SYNC_STALL_MS,
} from './pool_io_policy.ts';

const SMALL = 4096;

test('sync and async modes ignore size and timing', () => {
  const sync = new IoPolicy({ mode: IoMode.sync });
  const async = new IoPolicy({ mode: IoMode.async });
  sync.observeSync(SMALL, 0, 1000);
  assert.equal(sync.useSync(64 * 1024 * 1024, 1), true);
  assert.equal(async.useSync(SMALL, 0), false);
});

test('auto: small transfers run synchronously, large ones on the thread pool', () => {
  const p = new IoPolicy({ mode: IoMode.auto });
  assert.equal(p.useSync(SMALL, 0), true);
  assert.equal(p.useSync(DEFAULT_ASYNC_MIN_BYTES - 512, 0), true);
  assert.equal(p.useSync(DEFAULT_ASYNC_MIN_BYTES, 0), false);
});

test('auto: a fast synchronous call changes nothing', () => {
  const p = new IoPolicy({ mode: IoMode.auto });
  p.observeSync(SMALL, 100, 100 + SLOW_SYNC_BASE_MS / 2);
  assert.equal(p.slowSyncCalls, 0);
  assert.equal(p.useSync(SMALL, 100.2), true);
});

/** `n` slow (5 ms) synchronous calls back to back from `t`; returns the time after them. */
function slowCalls(p: IoPolicy, n: number, t: number): number {
  for (let i = 0; i < n; i++, t += 5) p.observeSync(SMALL, t, t + 5);
  return t;
}

test('auto: a run of slow synchronous calls sends the file to the thread pool for the back-off', () => {
  const p = new IoPolicy({ mode: IoMode.auto });
  const end = slowCalls(p, SLOW_SCORE_LIMIT, 100);
  assert.equal(p.slowSyncCalls, SLOW_SCORE_LIMIT);
  assert.equal(p.useSync(SMALL, end + BACKOFF_MIN_MS - 1), false);
  assert.equal(p.useSync(SMALL, end + BACKOFF_MIN_MS), true);
});

test('auto: isolated slow calls (preemption) among fast ones never leave the event loop', () => {
  const p = new IoPolicy({ mode: IoMode.auto });
  let t = 0;
  const everyNth = Math.ceil(1 / FAST_CALL_CREDIT) + 1;
  for (let i = 1; i <= 50 * everyNth; i++, t += 0.01) {
    if (i % everyNth === 0) p.observeSync(SMALL, t, t + 3);
    else p.observeSync(SMALL, t, t + 0.005);
    assert.equal(p.useSync(SMALL, t + 3), true, `call ${i}`);
  }
  assert.equal(p.slowSyncCalls, 50);
});

test('auto: slow calls closer together than the credit drains add up to a back-off', () => {
  const p = new IoPolicy({ mode: IoMode.auto });
  let t = 0;
  let offloaded = false;
  for (let i = 1; i <= 40 && !offloaded; i++, t += 0.01) {
    p.observeSync(SMALL, t, t + (i % 4 === 0 ? 3 : 0.005));
    offloaded = !p.useSync(SMALL, t + 3);
  }
  assert.equal(offloaded, true);
});

test('auto: one call as slow as a device stall is enough', () => {
  const p = new IoPolicy({ mode: IoMode.auto });
  p.observeSync(SMALL, 100, 100 + SLOW_SYNC_STALL_MS);
  assert.equal(p.useSync(SMALL, 100 + SLOW_SYNC_STALL_MS + 1), false);
});

test('auto: the copy allowance keeps a large fast transfer from counting as slow', () => {
  const p = new IoPolicy({ mode: IoMode.auto, asyncMinBytes: 64 * 1024 * 1024 });
  p.observeSync(16 * 1024 * 1024, 0, 10);
  assert.equal(p.slowSyncCalls, 0);
});

test('auto: slow probes double the back-off up to the ceiling; a fast one resets it', () => {
  const p = new IoPolicy({ mode: IoMode.auto });
  let now = 0;
  const slowProbe = (): void => {
    now += p.backoff;
    assert.equal(p.useSync(SMALL, now), true);
    p.observeSync(SMALL, now, now + 10);
    now += 10;
  };
  now = slowCalls(p, SLOW_SCORE_LIMIT, 0);
  assert.equal(p.backoff, BACKOFF_MIN_MS);
  slowProbe();
  assert.equal(p.backoff, BACKOFF_MIN_MS * 2);
  for (let i = 0; i < 20; i++) slowProbe();
  assert.equal(p.backoff, BACKOFF_MAX_MS);
  now += p.backoff;
  p.observeSync(SMALL, now, now + 0.01);
  assert.equal(p.backoff, BACKOFF_MIN_MS);
});

test('isIoMode accepts the three modes only', () => {
  assert.ok(isIoMode('auto') && isIoMode('sync') && isIoMode('async'));
  assert.equal(isIoMode('fast'), false);
});
