import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeText, encodeText } from './text.ts';
import { TextFormatError } from './errors.ts';

test('text round-trips key=value pairs in order', () => {
  const pairs: Array<[string, string]> = [['InitiatorName', 'iqn.2026-01.io.x:y'], ['HeaderDigest', 'CRC32C,None'], ['X-com.example_k', ''], ['TargetAlias', 'ümlaut']];
  assert.deepEqual(decodeText(encodeText(pairs)), pairs);
});

test('text tolerates a missing final NUL and empty entries', () => {
  assert.deepEqual(decodeText(Buffer.from('A=1\0\0B=2')), [['A', '1'], ['B', '2']]);
  assert.deepEqual(decodeText(Buffer.alloc(0)), []);
});

test('text limits and malformed entries raise TextFormatError with stable codes', () => {
  const code = (b: Buffer, limits?: Parameters<typeof decodeText>[1]): string | undefined => {
    try {
      decodeText(b, limits);
      return undefined;
    } catch (e) {
      assert.ok(e instanceof TextFormatError);
      return e.code;
    }
  };
  assert.equal(code(Buffer.from('novalue\0')), 'TEXT_MALFORMED');
  assert.equal(code(Buffer.from('bad key=1\0')), 'TEXT_MALFORMED');
  assert.equal(code(Buffer.from(`${'K'.repeat(64)}=1\0`)), 'KEY_TOO_LONG');
  assert.equal(code(Buffer.from(`K=${'v'.repeat(8193)}\0`)), 'VALUE_TOO_LONG');
  assert.equal(code(Buffer.alloc(70000, 0x41)), 'TEXT_TOO_LONG');
  assert.equal(code(Buffer.from('K=123456\0'), { maxTotal: 100, maxKey: 63, maxValue: 4 }), 'VALUE_TOO_LONG');
});
