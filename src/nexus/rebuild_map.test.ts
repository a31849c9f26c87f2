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
  assert.deepEqual(rm.claimed, [10, 30], 'adjacent whole regions make one extent');
  assert.equal(rm.claimRun(3), 4);
  assert.equal(rm.claimedRun, 1);
  assert.equal(rm.claimRun(3), 6);
  assert.equal(rm.claimedRun, 1);
  assert.equal(rm.claimRun(3), 9);
  assert.equal(rm.claimedRun, 1);
  assert.equal(rm.claimRun(3), -1);
  assert.equal(m.dirtyRegions, 0);
});

test('claimRun wraps to regions marked behind the cursor, and abandoned extents come back', () => {
  const m = new WriteIntentMap(50, 10);
  m.markAll();
  const rm = new RebuildMap(m);
  assert.equal(rm.claimRun(4), 0);
  assert.equal(rm.claimedRun, 4);
  m.markRegion(1); // written while away again
  rm.abandoned([20, 10]);
  assert.equal(rm.claimRun(4), 4);
  assert.equal(rm.claimedRun, 1);
  rm.finished(rm.claimed);
  assert.equal(rm.claimRun(4), 1);
  assert.equal(rm.claimedRun, 2);
  assert.deepEqual(rm.claimed, [10, 20]);
  assert.equal(rm.claimRun(4), -1);
  rm.finished([0, 40]);
  assert.equal(rm.blocksDone, 50);
});

test('rebuild_map_fine: a run of sparsely written regions claims only their dirty grains', () => {
  const m = new WriteIntentMap(1024, 256, { grainBlocks: 8 }); // 4 regions of 32 grains
  m.mark(16, 8);
  m.mark(250, 12); // crosses into region 1: grain 31 of region 0 and grain 0 of region 1
  m.mark(600, 1);
  const rm = new RebuildMap(m);
  assert.equal(rm.blocksTotal, 8 + 8 + 8 + 8);
  assert.equal(rm.claimRun(8), 0);
  assert.equal(rm.claimedRun, 3);
  assert.deepEqual(rm.claimed, [16, 8, 248, 16, 600, 8], 'grains that meet across a region border make one extent');
  rm.finished(rm.claimed);
  assert.equal(rm.blocksDone, 32);
  assert.equal(rm.claimRun(8), -1);
  assert.ok(rm.done);
  rm.abandoned([600, 8]);
  assert.equal(m.dirtyBlocks(), 8, 'an abandoned grain is dirty again, and only it');
});
