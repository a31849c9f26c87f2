import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesceRanges, pageRanges } from './snapshot_blocks.ts';

test('changed-block ranges: merged when they touch, sorted, empty ones dropped', () => {
  assert.deepEqual(coalesceRanges([{ offset: 8192, length: 4096 }, { offset: 0, length: 4096 }, { offset: 4096, length: 4096 }, { offset: 65536, length: 0 }]), [{ offset: 0, length: 12288 }]);
  assert.deepEqual(coalesceRanges([{ offset: 0, length: 10 }, { offset: 5, length: 2 }, { offset: 20, length: 1 }]), [{ offset: 0, length: 10 }, { offset: 20, length: 1 }]);
});

test('changed-block ranges: pages resume at nextOffset and together give back every range once; a straddling range is cut', () => {
  const ranges = Array.from({ length: 25 }, (_, i) => ({ offset: i * 8192, length: 4096 }));
  const seen: { offset: number; length: number }[] = [];
  let next: number | null = 0;
  let pages = 0;
  while (next !== null) {
    const p = pageRanges(ranges, next, 10);
    seen.push(...p.ranges);
    next = p.nextOffset;
    pages++;
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen, ranges);
  assert.deepEqual(pageRanges(ranges, 8192 + 1000, 1), { ranges: [{ offset: 9192, length: 3096 }], nextOffset: 16384 });
  assert.deepEqual(pageRanges(ranges, 10 ** 9), { ranges: [], nextOffset: null });
});
