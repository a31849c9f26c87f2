import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatBytes, parseSize } from './sizes.ts';

test('sizes with binary units', () => {
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize('512M'), 512 * 2 ** 20);
  assert.equal(parseSize('10G'), 10 * 2 ** 30);
  assert.equal(parseSize('64T'), 64 * 2 ** 40);
  assert.equal(parseSize('4k'), 4096);
  assert.equal(parseSize('1GiB'), 2 ** 30);
  assert.equal(parseSize('1.5G'), 1.5 * 2 ** 30);
});

test('bad sizes are INVALID_SIZE', () => {
  for (const bad of ['', 'G', '-1G', '10X', '0', '1.0000001', '1e3', '99999999P']) {
    assert.throws(() => parseSize(bad), { code: 'INVALID_SIZE' }, bad);
  }
});

test('formatBytes round-trips whole binary units', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 1023 }), fc.constantFrom('K', 'M', 'G', 'T'), (n, u) => {
    const text = formatBytes(parseSize(`${n}${u}`));
    assert.equal(text, `${n} ${u}iB`);
  }));
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(0), '0 B');
});
