import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flushUntilQuick, MAX_FLUSH_ROUNDS } from './flush_rounds.ts';

/** A clock the flushes move: each flush takes the next of `costs` milliseconds. */
function timedFlushes(costs: readonly number[]): { flush: () => Promise<void>; now: () => number; calls: () => number } {
  let clock = 1000;
  let calls = 0;
  return {
    now: () => clock,
    calls: () => calls,
    flush: async () => {
      clock += costs[Math.min(calls, costs.length - 1)];
      calls++;
    },
  };
}

test('a quick first round is the only one', async () => {
  const f = timedFlushes([1]);
  assert.deepEqual(await flushUntilQuick(f.flush, { now: f.now }), { rounds: 1, ms: 1 });
  assert.equal(f.calls(), 1);
});

test('rounds go on while they are slow and stop at the first quick one', async () => {
  const f = timedFlushes([400, 60, 9, 2.5, 500]);
  assert.deepEqual(await flushUntilQuick(f.flush, { now: f.now }), { rounds: 4, ms: 471.5 });
});

test('a round of exactly quickMs is not quick', async () => {
  const f = timedFlushes([5, 5, 4.99]);
  assert.equal((await flushUntilQuick(f.flush, { now: f.now, quickMs: 5 })).rounds, 3);
});

test('a device that never settles gets at most maxRounds (default 8)', async () => {
  const f = timedFlushes([50]);
  assert.deepEqual(await flushUntilQuick(f.flush, { now: f.now }), { rounds: MAX_FLUSH_ROUNDS, ms: 50 * MAX_FLUSH_ROUNDS });
  assert.equal(MAX_FLUSH_ROUNDS, 8);
  const g = timedFlushes([50]);
  assert.equal((await flushUntilQuick(g.flush, { now: g.now, maxRounds: 2 })).rounds, 2);
  assert.equal(g.calls(), 2);
});

test('a failed flush rejects and stops the rounds', async () => {
  let calls = 0;
  let clock = 0;
  const flush = async (): Promise<void> => {
    calls++;
    clock += 10;
    if (calls === 2) throw new Error('EIO');
  };
  await assert.rejects(flushUntilQuick(flush, { now: () => clock }), /EIO/);
  assert.equal(calls, 2);
});
