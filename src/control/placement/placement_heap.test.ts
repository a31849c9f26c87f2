import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IndexedHeap } from './placement_heap.ts';
import { seededRandom } from './placement_simulate.ts';

interface Item { heapIndex: number; key: number; }

test('heap pops in key order through pushes, removes and key updates', () => {
  const rnd = seededRandom(7);
  const heap = new IndexedHeap<Item>((a, b) => a.key < b.key);
  const live = new Set<Item>();
  for (let i = 0; i < 2000; i++) {
    const op = rnd();
    if (op < 0.5 || live.size === 0) {
      const it = { heapIndex: -1, key: Math.floor(rnd() * 1000) };
      heap.push(it); live.add(it);
    } else if (op < 0.75) {
      const it = [...live][Math.floor(rnd() * live.size)];
      heap.remove(it); live.delete(it);
      assert.equal(heap.has(it), false);
    } else {
      const it = [...live][Math.floor(rnd() * live.size)];
      it.key = Math.floor(rnd() * 1000);
      heap.update(it);
    }
  }
  assert.equal(heap.size, live.size);
  const keys: number[] = [];
  for (let it = heap.pop(); it !== undefined; it = heap.pop()) keys.push(it.key);
  assert.deepEqual(keys, [...live].map((i) => i.key).sort((a, b) => a - b));
});
