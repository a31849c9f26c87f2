import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoolConditionTracker } from './pool_condition.ts';

const MiB = 2 ** 20;

test('a host refusal is one change, however many writes fail; room again is one change back', () => {
  const t = new PoolConditionTracker();
  assert.equal(t.condition, 'ok');
  assert.equal(t.reason, undefined);
  const first = t.hostRefused('ENOSPC', { availableBytes: 0, backedBytes: 10 * MiB });
  assert.deepEqual({ ...first, reason: undefined }, { condition: 'hostFull', previous: 'ok', reason: undefined });
  assert.match(first!.reason!, /host filesystem.*out of space \(ENOSPC\)/);
  for (let i = 0; i < 100; i++) assert.equal(t.hostRefused('ENOSPC', { availableBytes: 0, backedBytes: 10 * MiB }), null, 'repeats change nothing');
  assert.equal(t.hostProbe({ availableBytes: MiB - 1, backedBytes: 10 * MiB }, MiB), null, 'less than an extent is not room');
  assert.equal(t.condition, 'hostFull');
  assert.deepEqual(t.hostProbe({ availableBytes: MiB, backedBytes: 10 * MiB }, MiB), { condition: 'ok', previous: 'hostFull' });
  assert.equal(t.hostProbe({ availableBytes: 0, backedBytes: 0 }, MiB), null, 'probes while ok change nothing');
});

test('a filesystem with some room that refused a write stays hostFull until it has more (no flapping)', () => {
  const t = new PoolConditionTracker();
  t.hostRefused('ENOSPC', { availableBytes: 3 * MiB, backedBytes: 0 });
  assert.equal(t.hostProbe({ availableBytes: 3 * MiB, backedBytes: 0 }, MiB), null, 'the room that already failed a write');
  assert.equal(t.hostProbe({ availableBytes: 3 * MiB + 4096, backedBytes: 0 }, MiB)?.condition, 'ok', 'space was freed');
});

test('a spent quota clears once the file gains blocks (statfs does not show quotas)', () => {
  const t = new PoolConditionTracker();
  t.hostRefused('EDQUOT', { availableBytes: 100 * MiB, backedBytes: 5 * MiB });
  assert.equal(t.hostProbe({ availableBytes: 100 * MiB, backedBytes: 5 * MiB }, MiB), null);
  assert.equal(t.hostProbe({ availableBytes: 100 * MiB, backedBytes: 6 * MiB }, MiB)?.condition, 'ok');
});

test('full in its own space: one change each way; host full wins while both hold', () => {
  const t = new PoolConditionTracker();
  assert.equal(t.setFull(false), null);
  const full = t.setFull(true);
  assert.equal(full?.condition, 'full');
  assert.equal(full?.reason, 'no free extents left in the pool');
  assert.equal(t.setFull(true), null);
  assert.equal(t.hostRefused('ENOSPC', { availableBytes: 0, backedBytes: 0 })?.previous, 'full');
  assert.equal(t.setFull(false), null, 'still hostFull: no visible change');
  assert.equal(t.setFull(true), null);
  assert.deepEqual(t.hostProbe({ availableBytes: MiB, backedBytes: 0 }, MiB)?.condition, 'full', 'host room again, pool still full');
  assert.deepEqual(t.setFull(false), { condition: 'ok', previous: 'full' });
});

test('a failed fdatasync makes the pool syncFailed for good, over hostFull and full', () => {
  const t = new PoolConditionTracker();
  t.setFull(true);
  t.hostRefused('ENOSPC', { availableBytes: 0, backedBytes: 0 });
  const c = t.syncFailed('EIO');
  assert.equal(c?.condition, 'syncFailed');
  assert.equal(c?.previous, 'hostFull');
  assert.match(c?.reason ?? '', /fdatasync of the pool file failed \(EIO\).*imported again/);
  assert.equal(t.syncFailed('EIO'), null, 'a second failure is no change');
  assert.equal(t.hostProbe({ availableBytes: 100 * MiB, backedBytes: 0 }, MiB), null, 'room again changes nothing visible');
  assert.equal(t.setFull(false), null);
  assert.equal(t.condition, 'syncFailed');
});
