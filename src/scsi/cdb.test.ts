import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRange, decodeBlockRange, readLba64, requireClear } from './cdb.ts';
import { CheckConditionError } from './sense.ts';

test('decodes LBA and length of the 6/10/12/16-byte families', () => {
  assert.deepEqual(decodeBlockRange(Buffer.from([0x08, 0x1f, 0xff, 0xfe, 0, 0])), { lba: 0x1ffffe, count: 256 });
  assert.deepEqual(decodeBlockRange(Buffer.from([0x28, 0, 0, 0, 1, 0, 0, 0, 8, 0])), { lba: 256, count: 8 });
  assert.deepEqual(decodeBlockRange(Buffer.from([0xa8, 0, 0, 0, 0, 9, 0, 0, 1, 0, 0, 0])), { lba: 9, count: 256 });
  const c16 = Buffer.alloc(16);
  c16[0] = 0x88;
  c16.writeBigUInt64BE(0x100000000n, 2);
  c16.writeUInt32BE(3, 10);
  assert.deepEqual(decodeBlockRange(c16), { lba: 0x100000000, count: 3 });
});

test('an LBA past 2^53 is never in range', () => {
  const b = Buffer.alloc(8, 0xff);
  assert.equal(readLba64(b, 0), Number.POSITIVE_INFINITY);
  assert.throws(() => checkRange(readLba64(b, 0), 0, 100), CheckConditionError);
});

test('range checks allow an empty range at the end but nothing past it', () => {
  checkRange(90, 10, 100);
  checkRange(100, 0, 100);
  assert.throws(() => checkRange(91, 10, 100), CheckConditionError);
  assert.throws(() => checkRange(101, 0, 100), CheckConditionError);
});

test('reserved bits are refused with a pointer to the highest set bit', () => {
  requireClear(Buffer.from([0, 0x01]), 1, 0x40);
  assert.throws(() => requireClear(Buffer.from([0, 0x41]), 1, 0x40), (e: CheckConditionError) => e.details?.fieldPointer?.bit === 6);
});
