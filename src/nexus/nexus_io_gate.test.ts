import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NexusIoGate } from './nexus_io_gate.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('lock waits for writes that entered before it, not for later ones', async () => {
  const gate = new NexusIoGate();
  const early = gate.enter();
  let locked = false;
  const p = gate.lock(0, 10).then(() => { locked = true; });
  const late = gate.enter(); // a write elsewhere, after the lock: must not hold it up
  await tick();
  assert.equal(locked, false);
  gate.leave(early);
  await p;
  assert.equal(locked, true);
  gate.leave(late);
});

test('writes overlapping a locked region are blocked until unlock', async () => {
  const gate = new NexusIoGate();
  await gate.lock(100, 50);
  assert.ok(gate.blocker(149, 1));
  assert.ok(gate.blocker(90, 11));
  assert.equal(gate.blocker(150, 10), undefined);
  assert.equal(gate.blocker(0, 100), undefined);
  const b = gate.blocker(120, 1) as Promise<void>;
  let released = false;
  void b.then(() => { released = true; });
  await tick();
  assert.equal(released, false);
  gate.unlock(100);
  await b;
  assert.equal(gate.locked, false);
});

test('drain counts across several epochs', async () => {
  const gate = new NexusIoGate();
  const a = gate.enter();
  const d1 = gate.drain();
  const b = gate.enter();
  let second = false;
  const d2 = gate.drain().then(() => { second = true; });
  gate.leave(b);
  await tick();
  assert.equal(second, false, 'a is still in flight');
  gate.leave(a);
  await d1;
  await d2;
  assert.equal(second, true);
  await gate.drain(); // nothing in flight: resolves at once
});

test('a second lock on an overlapping region waits for the first', async () => {
  const gate = new NexusIoGate();
  await gate.lock(0, 10);
  let second = false;
  const p = gate.lock(5, 10).then(() => { second = true; });
  await tick();
  assert.equal(second, false);
  gate.unlock(0);
  await p;
  assert.equal(second, true);
});
