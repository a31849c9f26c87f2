import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PoolAllocator, toRuns } from './pool_allocator.ts';
import { PoolExtentMap } from './pool_extent_map.ts';
import { computeLayout, validateExtentSize } from './pool_layout.ts';
import { errorCode } from '../util/errors.ts';

test('allocator hands out lowest free extents first and reuses freed ones', () => {
  const a = new PoolAllocator(100);
  assert.deepEqual(a.take(3), [0, 1, 2]);
  a.free(1);
  assert.deepEqual(a.take(2), [1, 3]);
  assert.equal(a.usedCount, 4);
  assert.equal(a.take(200).length, 96);
  assert.deepEqual(a.take(1), []);
  assert.equal(a.freeCount, 0);
  assert.equal(a.markUsed(5), false, 'double use is reported');
  assert.throws(() => { a.free(7); a.free(7); });
});

test('allocator never hands out an extent twice (model check)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(20))), (ops) => {
    const a = new PoolAllocator(70);
    const held = new Set<number>();
    for (const [take, n] of ops) {
      if (take) {
        for (const p of a.take(n)) { assert.ok(!held.has(p)); held.add(p); }
      } else {
        for (const p of [...held].slice(0, n)) { a.free(p); held.delete(p); }
      }
      assert.equal(a.usedCount, held.size);
      const free = [...Array(70).keys()].filter((p) => !held.has(p));
      assert.deepEqual(a.take(0), []);
      if (free.length > 0) { const [p] = a.take(1); assert.equal(p, free[0]); a.free(p); }
    }
  }));
});

test('toRuns groups contiguous extents', () => {
  assert.deepEqual(toRuns([1, 2, 3, 7, 9, 10]), [[1, 3], [7, 1], [9, 2]]);
  assert.deepEqual(toRuns([]), []);
});

test('extent map is sparse: a 64 TiB volume costs nothing until written', () => {
  const m = new PoolExtentMap();
  const last = 64 * 1024 * 1024 - 1; // 64 TiB of 1 MiB extents
  assert.equal(m.get(last), -1);
  m.set(last, 5);
  m.set(3, 6);
  assert.equal(m.get(last), 5);
  assert.equal(m.size, 2);
  assert.deepEqual(m.runLength(4, last + 1, 1 << 30), { mapped: false, count: last - 4 });
  assert.deepEqual(m.runLength(3, last + 1, 1 << 30), { mapped: true, count: 1 });
  const seen: number[][] = [];
  m.forEachMapped(0, last + 1, (l, p) => seen.push([l, p]));
  assert.deepEqual(seen, [[3, 6], [last, 5]]);
  assert.equal(m.delete(last), 5);
  assert.equal(m.delete(last), -1);
  assert.equal(m.size, 1);
});

test('extent map runs match a plain-object model', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(20000), fc.option(fc.nat(1000)))), (ops) => {
    const m = new PoolExtentMap();
    const ref = new Map<number, number>();
    for (const [l, p] of ops) {
      if (p === null) { assert.equal(m.delete(l), ref.get(l) ?? -1); ref.delete(l); } else { m.set(l, p); ref.set(l, p); }
    }
    assert.equal(m.size, ref.size);
    const rebuilt = new Map<number, number>();
    m.forEachRun((l, p, n) => { for (let i = 0; i < n; i++) rebuilt.set(l + i, p + i); });
    assert.deepEqual([...rebuilt].sort((a, b) => a[0] - b[0]), [...ref].sort((a, b) => a[0] - b[0]));
    const r = m.runLength(0, 20001, 100000);
    for (let l = 0; l < r.count; l++) assert.equal(ref.has(l), r.mapped);
    assert.ok(r.count === 20001 || ref.has(r.count) !== r.mapped);
  }));
});

test('layout: extent size rules, aligned data region, regions do not overlap', () => {
  for (const bad of [0, 1000, 32 * 1024, 128 * 1024 * 1024, 3 * 1024 * 1024]) {
    assert.throws(() => validateExtentSize(bad), (e) => errorCode(e) === 'INVALID_SIZE');
  }
  const l = computeLayout(2 ** 40, 4 * 1024 * 1024);
  assert.equal(l.dataOffset % (1024 * 1024), 0);
  assert.ok(l.slotBOffset >= l.slotAOffset + l.slotBytes && l.journalOffset >= l.slotBOffset + l.slotBytes);
  assert.ok(l.dataOffset + l.extentCount * l.extentSize <= 2 ** 40);
  assert.throws(() => computeLayout(1024 * 1024, 1024 * 1024), (e) => errorCode(e) === 'INVALID_SIZE');
});
