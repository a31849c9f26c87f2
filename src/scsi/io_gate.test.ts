import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpochGate, RangeLocks } from './io_gate.ts';

test('drain waits only for operations that entered before it', async () => {
  const g = new EpochGate();
  const a = g.enter();
  let drained = false;
  const d = g.drain().then(() => { drained = true; });
  const later = g.enter();
  await Promise.resolve();
  assert.equal(drained, false);
  g.leave(a);
  await d;
  assert.equal(drained, true);
  g.leave(later);
  await g.drain();
});

test('drain with nothing in flight resolves at once', async () => {
  await new EpochGate().drain();
});

test('range locks serialise overlapping holders and let disjoint ones run', async () => {
  const locks = new RangeLocks();
  assert.equal(locks.active, false);
  const r1 = await locks.acquire(10, 5);
  const r2 = await locks.acquire(20, 5);
  assert.equal(locks.active, true);
  let third = false;
  const p = locks.acquire(12, 1).then((r) => { third = true; return r; });
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(third, false);
  r1();
  const r3 = await p;
  assert.equal(third, true);
  r2();
  r3();
  assert.equal(locks.active, false);
  await locks.waitClear(0, 100);
});
