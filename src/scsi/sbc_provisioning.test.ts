import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdb, harness, senseOf } from './testing.ts';

function unmapList(ranges: [number, number][]): Buffer {
  const b = Buffer.alloc(8 + 16 * ranges.length);
  b.writeUInt16BE(b.length - 2, 0);
  b.writeUInt16BE(16 * ranges.length, 2);
  ranges.forEach(([lba, n], i) => { b.writeBigUInt64BE(BigInt(lba), 8 + 16 * i); b.writeUInt32BE(n, 16 + 16 * i); });
  return b;
}

test('UNMAP deallocates: blocks then read as zeros and GET LBA STATUS says so', async () => {
  const h = harness();
  await h.run(cdb.write10(0, 16), { data: Buffer.alloc(16 * 512, 0xee) });
  const list = unmapList([[2, 3], [10, 1]]);
  assert.equal(senseOf(await h.run(cdb.unmap(list.length), { data: list })), 'GOOD');
  const r = await h.run(cdb.read10(0, 16));
  assert.equal(r.data![2 * 512], 0);
  assert.equal(r.data![4 * 512 + 511], 0);
  assert.equal(r.data![5 * 512], 0xee);
  assert.equal(r.data![10 * 512], 0);
  const s = await h.run(cdb.getLbaStatus(2));
  assert.equal(senseOf(s), 'GOOD');
  assert.equal(s.data!.readBigUInt64BE(8), 2n);
  assert.equal(s.data!.readUInt32BE(16), 3);
  assert.equal(s.data![20], 1);
  assert.equal(s.data!.readBigUInt64BE(24), 5n);
  assert.equal(s.data![36], 0);
});

test('UNMAP validates the whole list before touching anything', async () => {
  const h = harness({ blockCount: 100 });
  await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512, 1) });
  const bad = unmapList([[0, 1], [99, 2]]);
  assert.equal(senseOf(await h.run(cdb.unmap(bad.length), { data: bad })), '5/2100');
  assert.equal((await h.run(cdb.read10(0, 1))).data![0], 1);
  assert.equal(senseOf(await h.run(cdb.unmap(4), { data: Buffer.alloc(4) })), '5/1a00');
  assert.equal(senseOf(await h.run(cdb.unmap(0))), 'GOOD');
  const empty = unmapList([]);
  assert.equal(senseOf(await h.run(cdb.unmap(empty.length), { data: empty })), 'GOOD');
});

test('UNMAP on a fully provisioned LU is not supported', async () => {
  const h = harness({ thin: false });
  const list = unmapList([[0, 1]]);
  assert.equal(senseOf(await h.run(cdb.unmap(list.length), { data: list })), '5/2000');
  assert.equal(senseOf(await h.run(cdb.writeSame16(0, 1, 0x08), { data: Buffer.alloc(512) })), '5/2400');
});

test('WRITE SAME repeats one block, and with UNMAP deallocates', async () => {
  const h = harness();
  const pattern = Buffer.alloc(512, 0x3c);
  assert.equal(senseOf(await h.run(cdb.writeSame16(100, 300), { data: pattern })), 'GOOD');
  const r = await h.run(cdb.read10(100, 300));
  assert.ok(r.data!.every((b) => b === 0x3c));
  assert.equal(senseOf(await h.run(cdb.writeSame16(100, 300, 0x08), { data: pattern })), 'GOOD');
  assert.ok((await h.run(cdb.read10(100, 300))).data!.every((b) => b === 0));
  const st = await h.run(cdb.getLbaStatus(100));
  assert.equal(st.data![20], 1);
});

test('WRITE SAME checks data-out size, ANCHOR, NDOB and the length limit', async () => {
  const h = harness({ blockCount: 1 << 17 });
  assert.equal(senseOf(await h.run(cdb.writeSame16(0, 1), { data: Buffer.alloc(1024) })), '5/2400');
  assert.equal(senseOf(await h.run(cdb.writeSame16(0, 1), { data: Buffer.alloc(256) })), '5/2400');
  assert.equal(senseOf(await h.run(cdb.writeSame16(0, 1, 0x18), { data: Buffer.alloc(512) })), '5/2400');
  assert.equal(senseOf(await h.run(cdb.writeSame16(0, 0), { data: Buffer.alloc(512) })), '5/2400');
  assert.equal(senseOf(await h.run(cdb.writeSame16((1 << 17) - 10, 0), { data: Buffer.alloc(512) })), 'GOOD');
  assert.equal(senseOf(await h.run(cdb.writeSame16(5, 2, 0x01))), 'GOOD');
  assert.equal(senseOf(await h.run(cdb.writeSame16((1 << 17) + 1, 0), { data: Buffer.alloc(512) })), '5/2100');
});

test('GET LBA STATUS beyond the end is LBA OUT OF RANGE; a thick LU is all mapped', async () => {
  const h = harness({ blockCount: 1000, thin: false });
  assert.equal(senseOf(await h.run(cdb.getLbaStatus(1000))), '5/2100');
  const r = await h.run(cdb.getLbaStatus(10, 24));
  assert.equal(r.data!.length, 24);
  assert.equal(r.data!.readUInt32BE(16), 990);
  assert.equal(r.data![20], 0);
});
