import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdb, harness, nexus, senseOf } from './testing.ts';

function pages(d: Buffer, headerLength: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let at = headerLength + (headerLength === 4 ? d[3] : d.readUInt16BE(6));
  while (at < d.length) { out.set(d[at] & 0x3f, d.subarray(at, at + 2 + d[at + 1])); at += 2 + d[at + 1]; }
  return out;
}

test('MODE SENSE(6) all pages: caching, control, informational exceptions, block descriptor, DPOFUA', async () => {
  const h = harness({ blockCount: 1000 });
  const d = (await h.run(cdb.modeSense6(0x3f))).data!;
  assert.equal(d[0], d.length - 1);
  assert.equal(d[2], 0x10);
  assert.equal(d[3], 8);
  assert.equal(d.readUInt32BE(4), 1000);
  assert.equal(d.readUIntBE(9, 3), 512);
  const p = pages(d, 4);
  assert.deepEqual([...p.keys()], [0x08, 0x0a, 0x1c]);
  assert.equal(p.get(0x08)![2] & 0x04, 0x04);
  assert.equal(p.get(0x0a)![2] & 0x04, 0);
});

test('MODE SENSE(10) with LLBAA returns a long block descriptor; DBD drops it', async () => {
  const h = harness({ blockCount: 1000 });
  const d = (await h.run([0x5a, 0x10, 0x0a, 0, 0, 0, 0, 0, 255, 0])).data!;
  assert.equal(d[4] & 1, 1);
  assert.equal(d.readUInt16BE(6), 16);
  assert.equal(d.readBigUInt64BE(8), 1000n);
  const nodesc = (await h.run(cdb.modeSense6(0x0a, 0, true))).data!;
  assert.equal(nodesc[3], 0);
  assert.equal(nodesc.length, 4 + 12);
});

test('MODE SENSE: changeable values show WCE and SWP only; saved values are not supported', async () => {
  const h = harness();
  const c = pages((await h.run(cdb.modeSense6(0x3f, 1))).data!, 4);
  assert.equal(c.get(0x08)![2], 0x04);
  assert.equal(c.get(0x0a)![4], 0x08);
  assert.equal(c.get(0x0a)![3], 0);
  assert.equal(senseOf(await h.run(cdb.modeSense6(0x3f, 3))), '5/3900');
  assert.equal(senseOf(await h.run(cdb.modeSense6(0x05))), '5/2400');
  assert.equal((await h.run(cdb.modeSense6(0x3f, 0, false, 4))).data!.length, 4);
});

test('MODE SELECT sets SWP: writes fail, WP shows, and other nexuses get MODE PARAMETERS CHANGED', async () => {
  const h = harness();
  await h.run(cdb.tur(), { nexus: nexus(2) });
  const control = pages((await h.run(cdb.modeSense6(0x0a, 0, true))).data!, 4).get(0x0a)!;
  const page = Buffer.from(control);
  page[4] |= 0x08;
  const params = Buffer.concat([Buffer.alloc(4), page]);
  assert.equal(senseOf(await h.run(cdb.modeSelect6(params.length), { data: params })), 'GOOD');
  assert.equal((await h.run(cdb.modeSense6(0x3f))).data![2] & 0x80, 0x80);
  assert.equal(senseOf(await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512) })), '7/2702');
  assert.equal(senseOf(await h.run(cdb.tur(), { nexus: nexus(2) })), '6/2a01');
  assert.equal(senseOf(await h.run(cdb.tur(), { nexus: nexus(2) })), 'GOOD');
  page[4] &= ~0x08;
  assert.equal(senseOf(await h.run(cdb.modeSelect6(params.length), { data: Buffer.concat([Buffer.alloc(4), page]) })), 'GOOD');
  assert.equal(senseOf(await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512) })), 'GOOD');
});

test('MODE SELECT refuses unchangeable bits, bad lengths, SP and missing PF', async () => {
  const h = harness();
  const control = pages((await h.run(cdb.modeSense6(0x0a, 0, true))).data!, 4).get(0x0a)!;
  const page = Buffer.from(control);
  page[2] |= 0x04;
  const params = Buffer.concat([Buffer.alloc(4), page]);
  assert.equal(senseOf(await h.run(cdb.modeSelect6(params.length), { data: params })), '5/2600');
  assert.equal(senseOf(await h.run([0x15, 0x00, 0, 0, params.length, 0], { data: params })), '5/2400');
  assert.equal(senseOf(await h.run([0x15, 0x11, 0, 0, params.length, 0], { data: params })), '5/2400');
  assert.equal(senseOf(await h.run(cdb.modeSelect6(params.length), { data: params.subarray(0, 6) })), '5/1a00');
});

test('clearing WCE makes every write force unit access', async () => {
  const h = harness();
  const caching = pages((await h.run(cdb.modeSense6(0x08, 0, true))).data!, 4).get(0x08)!;
  const page = Buffer.from(caching);
  page[2] &= ~0x04;
  const params = Buffer.concat([Buffer.alloc(4), page]);
  assert.equal(senseOf(await h.run(cdb.modeSelect6(params.length), { data: params })), 'GOOD');
  await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512) });
  assert.equal(h.device.stats.fuaWrites, 1);
});
