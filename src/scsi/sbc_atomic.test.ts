import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdb, harness, nexus, senseOf } from './testing.ts';

const block = (v: number, n = 1) => Buffer.alloc(512 * n, v);

test('COMPARE AND WRITE writes when the verify data matches', async () => {
  const h = harness();
  await h.run(cdb.write10(7, 2), { data: block(1, 2) });
  const r = await h.run(cdb.compareAndWrite(7, 2), { data: Buffer.concat([block(1, 2), block(2, 2)]) });
  assert.equal(senseOf(r), 'GOOD');
  assert.equal(r.dataOutLength, 2048);
  assert.deepEqual((await h.run(cdb.read10(7, 2))).data, block(2, 2));
});

test('COMPARE AND WRITE miscompare reports the first differing byte and writes nothing', async () => {
  const h = harness();
  await h.run(cdb.write10(0, 2), { data: block(0x41, 2) });
  const verify = block(0x41, 2);
  verify[512 + 485] = 0x43;
  const r = await h.run(cdb.compareAndWrite(0, 2), { data: Buffer.concat([verify, block(0x42, 2)]) });
  assert.equal(senseOf(r), 'e/1d00');
  assert.equal(r.sense![0] & 0x80, 0x80);
  assert.equal(r.sense!.readUInt32BE(3), 997);
  assert.deepEqual((await h.run(cdb.read10(0, 2))).data, block(0x41, 2));
});

test('COMPARE AND WRITE with a data-out length other than 2 x NUMBER OF BLOCKS is refused', async () => {
  const h = harness();
  assert.equal(senseOf(await h.run(cdb.compareAndWrite(0, 1), { data: block(0, 4) })), '5/2400');
  assert.equal(senseOf(await h.run(cdb.compareAndWrite(0, 0), { data: block(0, 2) })), '5/2400');
  assert.equal(senseOf(await h.run(cdb.compareAndWrite(0, 0))), 'GOOD');
  assert.equal(senseOf(await h.run(cdb.compareAndWrite(65535, 2), { data: block(0, 4) })), '5/2100');
});

test('concurrent COMPARE AND WRITEs on one block: exactly one wins (ATS semantics)', async () => {
  const h = harness();
  await h.run(cdb.write10(3, 1), { data: block(0) });
  const attempts = Array.from({ length: 16 }, (_, i) =>
    h.run(cdb.compareAndWrite(3, 1), { data: Buffer.concat([block(0), block(i + 1)]), nexus: nexus(1 + (i % 2)) }));
  const results = (await Promise.all(attempts)).map(senseOf);
  assert.equal(results.filter((r) => r === 'GOOD').length, 1);
  assert.equal(results.filter((r) => r === 'e/1d00').length, 15);
});

test('ORWRITE ORs data into the medium', async () => {
  const h = harness();
  await h.run(cdb.write10(0, 1), { data: block(0x0f) });
  const c = [0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
  assert.equal(senseOf(await h.run(c, { data: block(0xf0) })), 'GOOD');
  assert.equal((await h.run(cdb.read10(0, 1))).data![100], 0xff);
});

test('WRITE ATOMIC(16) writes the whole range and checks its length limit', async () => {
  const h = harness();
  const c = [0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0];
  assert.equal(senseOf(await h.run(c, { data: block(7, 2) })), 'GOOD');
  assert.deepEqual((await h.run(cdb.read10(9, 2))).data, block(7, 2));
  const tooLong = [0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x01, 0, 0];
  assert.equal(senseOf(await h.run(tooLong)), '5/2400');
});
