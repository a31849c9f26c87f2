import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplicaRef, rebuildText, retryText, throttleText, type ReplicaDoc } from './nexus_docs.ts';

test('parseReplicaRef: NODE/POOL/VOLUME with local, host:port and [v6]:port nodes', () => {
  assert.deepEqual(parseReplicaRef('local/p/v'), { node: 'local', pool: 'p', volume: 'v' });
  assert.deepEqual(parseReplicaRef('10.1.2.3:9520/p1/vol-a'), { node: '10.1.2.3:9520', pool: 'p1', volume: 'vol-a' });
  assert.deepEqual(parseReplicaRef('[fd00::1]:9520/p/v'), { node: '[fd00::1]:9520', pool: 'p', volume: 'v' });
  for (const bad of ['p/v', 'local//v', '/p/v', 'local/p/']) assert.throws(() => parseReplicaRef(bad), { code: 'INVALID_ARGUMENT' });
});

test('rebuildText: progress while running, the outcome afterwards', () => {
  const base: ReplicaDoc = { name: 'n/p/v', node: 'n', pool: 'p', volume: 'v', local: false, state: 'rebuilding', missingBytes: 0, rebuild: null, lastRebuild: null };
  assert.equal(rebuildText(base), '-');
  const running = rebuildText({ ...base, rebuild: { percent: 37.5, bytesDone: 3, bytesTotal: 8 * 2 ** 20, bytesCopied: 3, rate: 2 ** 20, etaSeconds: 5 } });
  assert.match(running, /^37\.5% of 8.*MiB at 1.*MiB\/s eta 5s$/);
  assert.match(rebuildText({ ...base, lastRebuild: { outcome: 'online', bytesCopied: 2 ** 20, bytesTotal: 2 ** 20, seconds: 0.25, finishedAt: '' } }), /^last: online, copied 1.*MiB in 0\.3s$/);
});

test('retryText: why a replica is not back and when the next attempt comes', () => {
  const base: ReplicaDoc = { name: 'n/p/v', node: 'n', pool: 'p', volume: 'v', local: false, state: 'faulted', missingBytes: 0, rebuild: null, lastRebuild: null };
  assert.equal(retryText(base), '-');
  const now = Date.parse('2026-12-06T20:00:00Z');
  assert.equal(retryText({ ...base, lastError: 'NO_SPACE: pool p is full', retryAt: '2026-12-06T20:00:12Z', retryAttempts: 3 }, now), 'retry in 12s (3 tried): NO_SPACE: pool p is full');
  assert.equal(retryText({ ...base, lastError: 'DEVICE_GONE: connect timed out', retryAt: null, retryAttempts: 1 }, now), 'retrying (1 tried): DEVICE_GONE: connect timed out');
});

test('throttleText: the byte cap, then the mode in force', () => {
  assert.equal(throttleText({ rebuildThrottleBytesPerSec: 0, rebuildThrottleMode: 'adaptive' }), 'none (adaptive)');
  assert.match(throttleText({ rebuildThrottleBytesPerSec: 64 * 2 ** 20, rebuildThrottleMode: 'fixed' }), /^64 ?MiB\/s \(fixed\)$/);
  assert.equal(throttleText({ rebuildThrottleBytesPerSec: 0 }), 'none', 'an engine from before modes');
});
