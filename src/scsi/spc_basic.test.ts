import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlockDevice } from '../block/memory_device.ts';
import { cdb, harness, senseOf } from './testing.ts';

test('REPORT LUNS lists every LUN, works on any LUN, and checks its fields', async () => {
  const h = harness();
  h.target.addLun(300, { device: new MemoryBlockDevice({ blockCount: 10 }), naaId: '6001405abcdef099', serial: 'S300' });
  const r = await h.run(cdb.reportLuns(), { lun: 77 });
  assert.equal(senseOf(r), 'GOOD');
  assert.equal(r.data!.readUInt32BE(0), 16);
  assert.deepEqual([...r.data!.subarray(8, 10)], [0, 0]);
  assert.deepEqual([...r.data!.subarray(16, 18)], [0x41, 0x2c]);
  assert.equal(senseOf(await h.run(cdb.reportLuns(8))), '5/2400');
  assert.equal(senseOf(await h.run([0xa0, 0, 0x07, 0, 0, 0, 0, 0, 1, 0, 0, 0])), '5/2400');
});

test('REQUEST SENSE returns and clears a pending unit attention, else NO SENSE', async () => {
  const h = harness();
  await h.run(cdb.tur());
  h.target.capacityChanged(0);
  const r = await h.run(cdb.requestSense());
  assert.equal(r.data![2], 0x06);
  assert.equal((r.data![12] << 8) | r.data![13], 0x2a09);
  const again = await h.run(cdb.requestSense());
  assert.equal(again.data![2], 0);
  assert.equal(senseOf(await h.run(cdb.tur())), 'GOOD');
  const missing = await h.run(cdb.requestSense(), { lun: 5 });
  assert.equal(senseOf(missing), 'GOOD');
  assert.equal((missing.data![12] << 8) | missing.data![13], 0x2500);
});

test('TEST UNIT READY to a missing LUN is LOGICAL UNIT NOT SUPPORTED; unknown opcodes are refused', async () => {
  const h = harness();
  assert.equal(senseOf(await h.run(cdb.tur(), { lun: 4 })), '5/2500');
  assert.equal(senseOf(await h.run([0xc5, 0, 0, 0, 0, 0])), '5/2000');
  assert.equal(senseOf(await h.run([0x9e, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), '5/2400');
});

test('REPORT SUPPORTED OPERATION CODES: all, one, by service action, with timeouts', async () => {
  const h = harness();
  const all = (await h.run(cdb.rsoc(0))).data!;
  const n = all.readUInt32BE(0) / 8;
  const listed: [number, number, boolean][] = [];
  for (let i = 0; i < n; i++) {
    const at = 4 + 8 * i;
    listed.push([all[at], all.readUInt16BE(at + 2), (all[at + 5] & 1) === 1]);
  }
  assert.ok(listed.some(([op]) => op === 0x42));
  assert.ok(listed.some(([op, sa, sv]) => op === 0x9e && sa === 0x10 && sv));
  for (const [op, sa, sv] of listed) {
    const one = await h.run(cdb.rsoc(sv ? 2 : 1, op, sa));
    assert.equal(senseOf(one), 'GOOD', `opcode ${op.toString(16)}/${sa}`);
    assert.equal(one.data![1] & 0x07, 3);
    assert.equal(one.data![4], op);
    assert.equal(senseOf(await h.run(cdb.rsoc(sv ? 1 : 2, op, sa))), '5/2400');
  }
  const read10 = (await h.run(cdb.rsoc(1, 0x28))).data!;
  assert.equal(read10.readUInt16BE(2), 10);
  assert.equal(read10[5] & 0x18, 0x18);
  const timed = (await h.run(cdb.rsoc(0, 0, 0, true))).data!;
  assert.equal(timed[4 + 5] & 0x02, 0x02);
  assert.equal(timed.readUInt16BE(4 + 8), 0x0a);
  const notThere = (await h.run(cdb.rsoc(1, 0xc5))).data!;
  assert.equal(notThere[1] & 0x07, 1);
});

test('a thick LU does not list UNMAP or SANITIZE BLOCK ERASE', async () => {
  const h = harness({ thin: false, blockCount: 100 });
  const all = (await h.run(cdb.rsoc(0))).data!;
  const ops: string[] = [];
  for (let at = 4; at < all.length; at += 8) ops.push(`${all[at]}/${all.readUInt16BE(at + 2)}`);
  assert.ok(!ops.includes('66/0'));
  assert.ok(!ops.includes('72/2'));
  assert.ok(ops.includes('72/1'));
});

test('on a thick LU the erases are unsupported service actions and WABEREQ/WACEREQ are 0', async () => {
  const h = harness({ thin: false, blockCount: 100 });
  assert.equal(senseOf(await h.run([0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0])), '5/2400');
  assert.equal(senseOf(await h.run([0x48, 0x03, 0, 0, 0, 0, 0, 0, 0, 0])), '5/2400');
  assert.equal((await h.run(cdb.inquiry(true, 0xb1))).data![7], 0);
  const thin = harness({ blockCount: 100 });
  assert.equal((await thin.run(cdb.inquiry(true, 0xb1))).data![7], 0x50);
});
