import test from 'node:test';
import assert from 'node:assert/strict';
import { describeContents, findSignature, PROBE_BYTES } from './pool_signature.ts';

function at(offset: number, bytes: Buffer | string, base = Buffer.alloc(PROBE_BYTES)): Buffer {
  (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes).copy(base, offset);
  return base;
}

test('known signatures are named', () => {
  const ext4 = at(1024 + 56, Buffer.from([0x53, 0xef]));
  ext4.writeUInt32LE(0x40, 1024 + 96);
  assert.equal(findSignature(ext4)?.what, 'ext4 filesystem');
  const ext3 = at(1024 + 56, Buffer.from([0x53, 0xef]));
  ext3.writeUInt32LE(0x4, 1024 + 92);
  assert.equal(findSignature(ext3)?.what, 'ext3 filesystem');
  assert.equal(findSignature(at(1024 + 56, Buffer.from([0x53, 0xef])))?.what, 'ext2 filesystem');
  assert.equal(findSignature(at(0, 'XFSB'))?.what, 'xfs filesystem');
  assert.equal(findSignature(at(512, 'EFI PART'))?.what, 'GPT partition table');
  assert.equal(findSignature(at(510, Buffer.from([0x55, 0xaa])))?.what, 'DOS/MBR partition table');
  assert.equal(findSignature(at(512 + 24, 'LVM2 001'))?.what, 'LVM2 physical volume');
  assert.equal(findSignature(at(4086, 'SWAPSPACE2'))?.what, 'swap space');
  assert.equal(findSignature(at(0, 'BERTHPOL'))?.what, 'Berth pool');
  assert.equal(findSignature(at(65600, '_BHRfS_M'))?.what, 'btrfs filesystem');
  assert.equal(findSignature(at(0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe])))?.what, 'LUKS encrypted volume');
});

test('zeros are empty; anything else is data, even a short file', () => {
  assert.equal(describeContents(Buffer.alloc(PROBE_BYTES)), null);
  assert.equal(describeContents(Buffer.alloc(0)), null);
  assert.match(describeContents(at(0, 'hello', Buffer.alloc(5)))!, /not empty \(non-zero data at byte 0\)/);
  assert.match(describeContents(at(40_000, 'x'))!, /byte 40000/);
  assert.match(describeContents(at(0, 'XFSB'))!, /xfs filesystem \(signature at byte 0\)/);
  // A buffer too short for a rule's offset never throws.
  assert.equal(findSignature(Buffer.from('EF')), null);
});
