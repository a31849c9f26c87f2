import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareKeys, prefixEnd } from './store_keys.ts';
import { etcdPrefixEnd, int, b64, unb64 } from './etcd_client.ts';

test('prefixEnd is the first string past every key with the prefix', () => {
  assert.equal(prefixEnd('a/'), 'a0');
  assert.equal(prefixEnd(''), undefined);
  assert.equal(prefixEnd('x\u{10FFFF}'), 'y');
  assert.equal(prefixEnd('\u{10FFFF}'), undefined);
  // U+D7FF + 1 would be a surrogate; the next code point is U+E000.
  assert.equal(prefixEnd('k\uD7FF'), 'k\uE000');
  for (const key of ['a/', 'a/x', 'a/\u{1F600}', 'a/\u{10FFFF}\u{10FFFF}']) {
    assert.ok(compareKeys(key, prefixEnd('a/') as string) < 0, key);
  }
});

test('etcd range end increments the last byte below 0xff', () => {
  assert.deepEqual([...etcdPrefixEnd('a/')], [0x61, 0x30]);
  assert.deepEqual([...etcdPrefixEnd('')], [0]);
  // 'é' is C3 A9 in UTF-8.
  assert.deepEqual([...etcdPrefixEnd('é')], [0xc3, 0xaa]);
});

test('compareKeys orders by code point, not UTF-16 unit', () => {
  assert.ok(compareKeys('\uFF5E', '\u{1F600}') < 0);
  assert.ok('\uFF5E' > '\u{1F600}', 'JavaScript compares UTF-16 units the other way');
  assert.equal(compareKeys('a', 'a'), 0);
});

test('gateway encodings: base64 text and int64 strings', () => {
  assert.equal(unb64(b64('zoë/✓')), 'zoë/✓');
  assert.equal(unb64(undefined), '');
  assert.equal(int('42'), 42);
  assert.equal(int(undefined), 0);
});
