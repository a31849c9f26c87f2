import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CRASH_WINDOW_MS, decodeLayout, encodeLayout, FIRST_KEPT_FD, isKeeperMessage, isWorkerMessage, respawnDelayMs, type KeptSlot } from './fuse_keeper_protocol.ts';
import { KeptFds } from './kept_fds.ts';

test('a layout of spares and bound descriptors survives its trip through the environment', () => {
  const slots: KeptSlot[] = [{ fd: 4 }, { fd: 5, record: { pool: 'p', volume: 'v-1', path: '/var/lib/x/p@v-1' } }, { fd: 6 }];
  assert.deepEqual(decodeLayout(encodeLayout(slots)), slots);
});

test('a layout that is not what the keeper writes is refused, never half-read', () => {
  for (const bad of ['', 'x', '{}', '[3]', '[4,4]', '[4.5]', '[[4,"p","v"]]', '[[4,"p","v","relative"]]', '[[4,"p/../q","v","/a"]]']) {
    assert.throws(() => decodeLayout(bad), { code: 'KEEPER_LAYOUT' }, bad);
  }
  fc.assert(fc.property(fc.string(), (text) => {
    try {
      const slots = decodeLayout(text);
      assert.ok(slots.every((s) => Number.isInteger(s.fd) && s.fd >= FIRST_KEPT_FD));
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'KEEPER_LAYOUT');
    }
  }), { numRuns: 300 });
});

test('only the three worker messages are taken from the channel', () => {
  assert.ok(isWorkerMessage({ t: 'ready' }));
  assert.ok(isWorkerMessage({ t: 'release', fd: 7 }));
  assert.ok(isWorkerMessage({ t: 'bind', fd: 7, record: { pool: 'p', volume: 'v', path: '/a/p@v' } }));
  for (const bad of [null, 1, {}, { t: 'bind', fd: 7 }, { t: 'release', fd: '7' }, { t: 'bind', fd: 7, record: { pool: 'p', volume: 'v', path: 'a' } }, { t: 'exit' }]) {
    assert.equal(isWorkerMessage(bad), false, JSON.stringify(bad));
  }
});

test('the worker takes only a handover from the keeper', () => {
  assert.ok(isKeeperMessage({ t: 'handover' }));
  for (const bad of [null, 'handover', {}, { t: 'ready' }, { t: 'HANDOVER' }, [{ t: 'handover' }]]) {
    assert.equal(isKeeperMessage(bad), false, JSON.stringify(bad));
  }
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    assert.equal(isKeeperMessage(v), typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { t?: unknown }).t === 'handover');
  }), { numRuns: 300 });
});

test('the first crash is restarted at once, then the wait doubles to 30 s, and old crashes are forgotten', () => {
  const now = 10 * CRASH_WINDOW_MS;
  assert.equal(respawnDelayMs([now], now), 0);
  assert.equal(respawnDelayMs([now - 1, now], now), 1000);
  assert.equal(respawnDelayMs([now - 2, now - 1, now], now), 2000);
  assert.equal(respawnDelayMs(Array.from({ length: 20 }, (_, i) => now - i), now), 30_000);
  assert.equal(respawnDelayMs([now - CRASH_WINDOW_MS - 1, now - CRASH_WINDOW_MS, now], now), 0);
});

test('the worker tells the keeper of a descriptor before it mounts it, and hands each inherited one over once', () => {
  const sent: unknown[] = [];
  const kept = new KeptFds([{ fd: 4 }, { fd: 5, record: { pool: 'p', volume: 'v', path: '/a/p@v' } }], (m) => sent.push(m));
  assert.equal(kept.spareCount, 1);
  assert.deepEqual(kept.takeInherited().map((s) => s.fd), [5]);
  assert.deepEqual(kept.takeInherited(), []);
  const record = { pool: 'p', volume: 'w', path: '/a/p@w' };
  assert.equal(kept.takeSpare(record), 4);
  assert.equal(kept.takeSpare(record), undefined, 'a descriptor serves one mount in its life');
  kept.release(4);
  kept.ready();
  assert.deepEqual(sent, [{ t: 'bind', fd: 4, record }, { t: 'release', fd: 4 }, { t: 'ready' }]);
});
