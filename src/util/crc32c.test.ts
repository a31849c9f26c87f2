import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from './crc32c.ts';

/** Bit-at-a-time reference, independent of the tables. */
function slowCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of data) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

test('crc32c matches the standard check value and RFC 3720 vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
});

test('crc32c agrees with a bitwise reference on any input, range and split', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (data, a, b) => {
    const start = data.length === 0 ? 0 : a % (data.length + 1);
    const end = start + (data.length - start === 0 ? 0 : b % (data.length - start + 1));
    const slice = data.subarray(start, end);
    assert.equal(crc32c(data, 0, start, end), slowCrc32c(slice));
    const mid = start + Math.floor((end - start) / 2);
    assert.equal(crc32c(data, crc32c(data, 0, start, mid), mid, end), slowCrc32c(slice));
  }));
});
