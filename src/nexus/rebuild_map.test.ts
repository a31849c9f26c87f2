import test from 'node:test';
import assert from 'node:assert/strict';
import { WriteIntentMap } from './write_intent_map.ts';
import { RebuildMap } from './rebuild_map.ts';

test('claimRun takes contiguous dirty regions up to the limit, and stops at a clean one', () => {
  const m = new WriteIntentMap(100, 10); // 10 regions
  for (const r of [1, 2, 3, 4, 6, 9]) m.markRegion(r);
  const rm = new RebuildMap(m);
  assert.equal(rm.claimRun(3), 1);
  assert.equal(rm.claimedRun, 3);
  assert.equal(rm.claimRun(3), 4);
  assert.equal(rm.claimedRun, 1);
  assert.equal(rm.claimRun(3), 6);
  assert.equal(rm.claimedRun, 1);
  assert.equal(rm.claimRun(3), 9);
  assert.equal(rm.claimedRun, 1);
  assert.equal(rm.claimRun(3), -1);
  assert.equal(m.dirtyRegions, 0);
});

test('claimRun wraps to regions marked behind the cursor, and abandoned regions come back', () => {
  const m = new WriteIntentMap(50, 10);
  m.markAll();
  const rm = new RebuildMap(m);
  assert.equal(rm.claimRun(4), 0);
  assert.equal(rm.claimedRun, 4);
  m.markRegion(1); // written while away again
  rm.abandoned(2);
  assert.equal(rm.claimRun(4), 4);
  assert.equal(rm.claimedRun, 1);
  assert.equal(rm.claimRun(4), 1);
  assert.equal(rm.claimedRun, 2);
  assert.equal(rm.claimRun(4), -1);
  for (let r = 0; r < 5; r++) rm.finished(r);
  assert.equal(rm.blocksDone, 50);
});
