import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdb, harness, nexus, senseOf } from './testing.ts';

test('standard INQUIRY: direct access, SPC-4, HISUP, 3PC, CMDQUE, version descriptors', async () => {
  const h = harness({ config: { vendor: 'ACME', product: 'DISK', revision: '1.0' } });
  const d = (await h.run(cdb.inquiry(false, 0))).data!;
  assert.equal(d.length, 96);
  assert.equal(d[0], 0x00);
  assert.equal(d[2], 0x06);
  assert.equal(d[3], 0x12);
  assert.equal(d[4], 91);
  assert.equal(d[5] & 0x08, 0x08);
  assert.equal(d[7] & 0x02, 0x02);
  assert.equal(d.subarray(8, 16).toString(), 'ACME    ');
  assert.equal(d.subarray(16, 32).toString(), 'DISK            ');
  const versions = [0, 1, 2, 3].map((i) => d.readUInt16BE(58 + 2 * i));
  assert.deepEqual(versions, [0x00a0, 0x0960, 0x0460, 0x04c0]);
});

test('INQUIRY honours the allocation length and rejects a page code without EVPD', async () => {
  const h = harness();
  assert.equal((await h.run(cdb.inquiry(false, 0, 5))).data!.length, 5);
  assert.equal(senseOf(await h.run(cdb.inquiry(false, 0x80))), '5/2400');
  assert.equal(senseOf(await h.run(cdb.inquiry(true, 0x99))), '5/2400');
});

test('INQUIRY to a missing LUN answers peripheral qualifier 011b', async () => {
  const h = harness();
  const r = await h.run(cdb.inquiry(false, 0), { lun: 9 });
  assert.equal(senseOf(r), 'GOOD');
  assert.equal(r.data![0], 0x7f);
  assert.equal(senseOf(await h.run(cdb.inquiry(true, 0x83), { lun: 9 })), '5/2400');
});

test('VPD 0x00 lists the pages in order, each of which answers', async () => {
  const h = harness();
  const d = (await h.run(cdb.inquiry(true, 0))).data!;
  const pages = [...d.subarray(4, 4 + d.readUInt16BE(2))];
  assert.deepEqual(pages, [0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
  for (const p of pages) assert.equal(senseOf(await h.run(cdb.inquiry(true, p))), 'GOOD');
});

test('VPD 0x80 carries the serial; 0x83 the NAA, T10, port and name designators', async () => {
  const h = harness();
  assert.equal((await h.run(cdb.inquiry(true, 0x80))).data!.subarray(4).toString(), 'SERIAL0');
  const d = (await h.run(cdb.inquiry(true, 0x83), { nexus: nexus(1, 3) })).data!;
  const found: { type: number; assoc: number; value: Buffer }[] = [];
  for (let at = 4; at < d.length; at += 4 + d[at + 3]) {
    found.push({ type: d[at + 1] & 0x0f, assoc: (d[at + 1] >> 4) & 3, value: d.subarray(at + 4, at + 4 + d[at + 3]) });
  }
  const naa = found.find((f) => f.type === 3)!;
  assert.equal(naa.value.toString('hex'), '6001405abcdef0120000000000000000');
  assert.equal(found.filter((f) => f.type === 3).length, 1);
  assert.ok(found.find((f) => f.type === 1)!.value.toString().startsWith('BERTH   SERIAL0'));
  assert.equal(found.find((f) => f.type === 4)!.value.readUInt16BE(2), 3);
  const names = found.filter((f) => f.type === 8).map((f) => f.value.toString().replace(/\0+$/, ''));
  assert.deepEqual(names, ['iqn.2024-01.io.berth:target,t,0x0001', 'iqn.2024-01.io.berth:target']);
});

test('Block Limits and Logical Block Provisioning describe a thin LU', async () => {
  const h = harness();
  const bl = (await h.run(cdb.inquiry(true, 0xb0))).data!;
  assert.equal(bl.readUInt16BE(2), 0x3c);
  assert.equal(bl[5], 255);
  assert.equal(bl.readUInt32BE(8), 16384);
  assert.ok(bl.readUInt32BE(20) > 0);
  assert.ok(bl.readUInt32BE(24) > 0);
  assert.equal(bl.readBigUInt64BE(36), 0xffffn);
  const lbp = (await h.run(cdb.inquiry(true, 0xb2))).data!;
  assert.equal(lbp[5], 0x80 | 0x40 | 0x20 | 0x04);
  assert.equal(lbp[6] & 0x07, 2);
  const rc = (await h.run(cdb.readCapacity16())).data!;
  assert.equal(rc[14] & 0xc0, 0xc0);
});

test('a thick LU reports no unmap limits, no LBPME and full provisioning', async () => {
  const h = harness({ thin: false, blockCount: 1000, config: { physicalBlockSize: 4096 } });
  const bl = (await h.run(cdb.inquiry(true, 0xb0))).data!;
  assert.equal(bl.readUInt32BE(20), 0);
  assert.equal(bl.readUInt32BE(24), 0);
  assert.equal((await h.run(cdb.inquiry(true, 0xb2))).data![5], 0);
  const rc = (await h.run(cdb.readCapacity16())).data!;
  assert.equal(rc.readBigUInt64BE(0), 999n);
  assert.equal(rc[13] & 0x0f, 3);
  assert.equal(rc[14], 0);
});
