import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKOFF_MAX_MS, BACKOFF_MIN_MS, DEFAULT_ASYNC_MIN_BYTES, IoMode, IoPolicy, isIoMode, SLOW_SYNC_BASE_MS,
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

test('auto: a slow synchronous call sends the file to the thread pool for the back-off', () => {
  const p = new IoPolicy({ mode: IoMode.auto });
  p.observeSync(SMALL, 100, 105);
  assert.equal(p.slowSyncCalls, 1);
  assert.equal(p.useSync(SMALL, 105 + BACKOFF_MIN_MS - 1), false);
  assert.equal(p.useSync(SMALL, 105 + BACKOFF_MIN_MS), true);
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
  p.observeSync(SMALL, 0, 10);
  now = 10;
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
