import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoolExtentMap } from './pool_extent_map.ts';

function countRuns(m: PoolExtentMap): number {
  let n = 0;
  m.forEachRun(() => { n++; });
  return n;
}

test('the run count kept on every set and delete equals the runs forEachRun visits', () => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const m = new PoolExtentMap();
  for (let i = 0; i < 20_000; i++) {
    const l = rnd(9000); // crosses chunk boundaries (4096 entries)
    if (rnd(3) === 0) m.delete(l);
    else m.set(l, rnd(2) === 0 ? l + 100 : rnd(20_000)); // runs form, break and join
    if (i % 997 === 0) assert.equal(m.runs, countRuns(m), `after ${i} changes`);
  }
  assert.equal(m.runs, countRuns(m));
  const copy = new PoolExtentMap();
  copy.copyFrom(m);
  assert.equal(copy.runs, m.runs);
  assert.equal(copy.size, m.size);
  copy.clear();
  assert.equal(copy.runs, 0);
  assert.equal(countRuns(copy), 0);
  assert.equal(m.runs, countRuns(m), 'the copy is independent');
});
