import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WriteIntentMap } from './write_intent_map.ts';

test('mark covers every region a range touches, and only those', () => {
  const m = new WriteIntentMap(1000, 100);
  m.mark(99, 2);
  assert.deepEqual([0, 1, 2].map((r) => m.isDirty(r)), [true, true, false]);
  assert.equal(m.dirtyRegions, 2);
  m.mark(150, 10);
  assert.equal(m.dirtyRegions, 2, 'marking twice counts once');
  m.mark(0, 0);
  assert.equal(m.dirtyRegions, 2);
});

test('the short last region is sized exactly', () => {
  const m = new WriteIntentMap(250, 100);
  assert.equal(m.regionCount, 3);
  assert.equal(m.regionLength(2), 50);
  m.markAll();
  assert.equal(m.dirtyBlocks(), 250);
  m.mark(249, 5); // past the end is clamped, never a new region
  assert.equal(m.dirtyRegions, 3);
});

test('nextDirty walks dirty regions in order across words', () => {
  const m = new WriteIntentMap(100 * 70, 100);
  for (const r of [0, 31, 32, 33, 63, 64, 69]) m.markRegion(r);
  const seen: number[] = [];
  for (let r = m.nextDirty(0); r >= 0; r = m.nextDirty(r + 1)) seen.push(r);
  assert.deepEqual(seen, [0, 31, 32, 33, 63, 64, 69]);
  m.clearRegion(31);
  assert.equal(m.nextDirty(1), 32);
  assert.equal(m.nextDirty(70), -1);
});

test('fuzz: the bitmap agrees with a set, and survives toBuffer/fromBuffer', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 5000 }), fc.array(fc.tuple(fc.boolean(), fc.nat(5000), fc.nat(300))), (blocks, ops) => {
    const m = new WriteIntentMap(blocks, 64);
    const model = new Set<number>();
    for (const [mark, lba, count] of ops) {
      if (mark) {
        const l = lba % blocks;
        const c = Math.min(count, blocks - l);
        m.mark(l, c);
        for (let b = l; b < l + c; b++) model.add(Math.floor(b / 64));
      } else {
        const r = lba % m.regionCount;
        m.clearRegion(r);
        model.delete(r);
      }
    }
    const seen: number[] = [];
    for (let r = m.nextDirty(0); r >= 0; r = m.nextDirty(r + 1)) seen.push(r);
    assert.deepEqual(seen, [...model].sort((a, b) => a - b));
    assert.equal(m.dirtyRegions, model.size);
    const back = WriteIntentMap.fromBuffer(blocks, 64, m.toBuffer());
    assert.deepEqual(back.toBuffer(), m.toBuffer());
    assert.equal(back.dirtyRegions, m.dirtyRegions);
  }), { numRuns: 200 });
});
