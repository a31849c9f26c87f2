import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IO_POOL_MAX_BYTES, IO_POOL_MIN_BYTES, IoBufferPool } from './io_buffer_pool.ts';

test('a released buffer is handed out again; sizes share a power-of-two class', () => {
  const pool = new IoBufferPool();
  const a = pool.acquire(1024 * 1024);
  assert.equal(a.length, 1024 * 1024);
  pool.release(a);
  const b = pool.acquire(768 * 1024 + 512);
  assert.equal(b.length, 768 * 1024 + 512);
  assert.equal(b.buffer, a.buffer);
  assert.equal(pool.reused, 1);
  assert.equal(pool.allocated, 1);
});

test('sizes outside the pooled range are plain allocations and never kept', () => {
  const pool = new IoBufferPool();
  for (const len of [IO_POOL_MIN_BYTES - 1, IO_POOL_MAX_BYTES + 1]) {
    assert.equal(pool.pools(len), false);
    const b = pool.acquire(len);
    assert.equal(b.length, len);
    pool.release(b);
    assert.equal(pool.idleBytes, 0);
  }
});

test('a second release, a view of a lent buffer released twice, or a foreign buffer is ignored', () => {
  const pool = new IoBufferPool();
  const a = pool.acquire(64 * 1024);
  pool.release(a.subarray(10, 20));
  pool.release(a);
  assert.equal(pool.idleBytes, 64 * 1024);
  pool.release(Buffer.allocUnsafeSlow(64 * 1024));
  assert.equal(pool.idleBytes, 64 * 1024);
  const b = pool.acquire(64 * 1024);
  const c = pool.acquire(64 * 1024);
  assert.notEqual(b.buffer, c.buffer, 'the double release must not have put one buffer on the list twice');
});

test('free buffers beyond the byte cap are dropped', () => {
  const pool = new IoBufferPool(2 * 1024 * 1024);
  const bufs = [1, 2, 3].map(() => pool.acquire(1024 * 1024));
  for (const b of bufs) pool.release(b);
  assert.equal(pool.idleBytes, 2 * 1024 * 1024);
});

test('property: no buffer is ever lent to two holders at once', () => {
  fc.assert(fc.property(
    fc.array(fc.oneof(
      fc.record({ op: fc.constant('get' as const), len: fc.integer({ min: 1, max: IO_POOL_MAX_BYTES }) }),
      fc.record({ op: fc.constant('put' as const), pick: fc.nat(), twice: fc.boolean() }),
    ), { maxLength: 60 }),
    (ops) => {
      const pool = new IoBufferPool(8 * 1024 * 1024);
      const held: Buffer[] = [];
      for (const o of ops) {
        if (o.op === 'get') {
          const b = pool.acquire(o.len);
          assert.equal(b.length, o.len);
          // Small plain allocations may share Node's own slab; pooled ones must be unique.
          if (pool.pools(o.len)) for (const h of held) assert.notEqual(h.buffer, b.buffer);
          held.push(b);
        } else if (held.length > 0) {
          const [b] = held.splice(o.pick % held.length, 1);
          pool.release(b);
          if (o.twice) pool.release(b);
        }
      }
    },
  ), { numRuns: 300 });
});
