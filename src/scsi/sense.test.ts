import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSense, invalidFieldInCdb, miscompare, parseSense } from './sense.ts';
import { Asc, SenseKey } from './constants.ts';

test('fixed-format sense carries key, ASC/ASCQ and additional length 10', () => {
  const s = buildSense(SenseKey.ILLEGAL_REQUEST, Asc.LBA_OUT_OF_RANGE);
  assert.equal(s.length, 18);
  assert.equal(s[0], 0x70);
  assert.equal(s[2], 0x05);
  assert.equal(s[7], 10);
  assert.equal(s[12], 0x21);
  assert.equal(s[13], 0x00);
  assert.equal(s[15], 0);
});

test('INVALID FIELD IN CDB points at the byte and bit with C/D set', () => {
  const s = invalidFieldInCdb(7, 3).toSense();
  assert.equal(s[15], 0x80 | 0x40 | 0x08 | 3);
  assert.equal(s.readUInt16BE(16), 7);
  assert.deepEqual(parseSense(s), { key: 5, asc: 0x2400, fieldPointer: 7 });
});

test('a miscompare reports its offset in the INFORMATION field with VALID', () => {
  const s = miscompare(1234).toSense();
  assert.equal(s[0] & 0x80, 0x80);
  assert.equal(s.readUInt32BE(3), 1234);
  assert.equal(s[2], SenseKey.MISCOMPARE);
});

test('progress indication sets SKSV and the fraction', () => {
  const s = buildSense(SenseKey.NOT_READY, Asc.LU_NOT_READY_SANITIZE_IN_PROGRESS, { progress: 0x8000 });
  assert.equal(s[15], 0x80);
  assert.equal(s.readUInt16BE(16), 0x8000);
});
