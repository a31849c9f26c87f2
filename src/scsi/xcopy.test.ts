import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlockDevice } from '../block/memory_device.ts';
import { naaDesignator } from './logical_unit.ts';
import { cdb, harness, senseOf, type Harness } from './testing.ts';

const NAA0 = '6001405abcdef012';
const NAA1 = '6001405abcdef013';

function cscd(naaId: string): Buffer {
  const d = Buffer.alloc(32);
  const naa = naaDesignator(naaId);
  d[0] = 0xe4;
  d[4] = 0x01;
  d[5] = 0x03;
  d[7] = naa.length;
  naa.copy(d, 8);
  d.writeUIntBE(512, 29, 3);
  return d;
}

function segment(src: number, dst: number, blocks: number, srcLba: number, dstLba: number, type = 0x02): Buffer {
  const s = Buffer.alloc(28);
  s[0] = type;
  s.writeUInt16BE(0x18, 2);
  s.writeUInt16BE(src, 4);
  s.writeUInt16BE(dst, 6);
  s.writeUInt16BE(blocks, 10);
  s.writeBigUInt64BE(BigInt(srcLba), 12);
  s.writeBigUInt64BE(BigInt(dstLba), 20);
  return s;
}

function parameterList(listId: number, usage: number, cscds: Buffer[], segments: Buffer[]): Buffer {
  const c = Buffer.concat(cscds);
  const s = Buffer.concat(segments);
  const h = Buffer.alloc(16);
  h[0] = listId;
  h[1] = usage << 3;
  h.writeUInt16BE(c.length, 2);
  h.writeUInt32BE(s.length, 8);
  return Buffer.concat([h, c, s]);
}

function xcopyCdb(length: number): number[] {
  const c = Array(16).fill(0);
  c[0] = 0x83;
  c[10] = (length >>> 24) & 0xff; c[11] = (length >> 16) & 0xff; c[12] = (length >> 8) & 0xff; c[13] = length & 0xff;
  return c;
}

function twoLuns(): Harness {
  const h = harness({ blockCount: 4096 });
  h.target.addLun(1, { device: new MemoryBlockDevice({ blockCount: 4096 }), naaId: NAA1, serial: 'S1' });
  return h;
}

test('EXTENDED COPY copies blocks between two LUs named by NAA designator', async () => {
  const h = twoLuns();
  const data = Buffer.alloc(100 * 512);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  await h.run(cdb.write10(10, 100), { data });
  const params = parameterList(1, 0, [cscd(NAA0), cscd(NAA1)], [segment(0, 1, 100, 10, 2000)]);
  assert.equal(senseOf(await h.run(xcopyCdb(params.length), { data: params })), 'GOOD');
  await h.run(cdb.tur(), { lun: 1 });
  assert.deepEqual((await h.run(cdb.read10(2000, 100), { lun: 1 })).data, data);
  const status = await h.run([0x84, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.equal(senseOf(status), 'GOOD');
  assert.equal(status.data![4], 0x01);
  assert.equal(status.data!.readUInt32BE(8), 100 * 512);
});

test('RECEIVE COPY RESULTS: unknown list id is refused; operating parameters report limits', async () => {
  const h = twoLuns();
  assert.equal(senseOf(await h.run([0x84, 0x00, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])), '5/2400');
  const op = (await h.run([0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])).data!;
  assert.equal(op.readUInt16BE(8), 2);
  assert.equal(op.readUInt16BE(10), 64);
  assert.equal(op.readUInt32BE(12), 4096);
});

test('EXTENDED COPY validates descriptor types, counts and lengths before copying', async () => {
  const h = twoLuns();
  const ok = [cscd(NAA0)];
  const seg = [segment(0, 0, 1, 0, 1)];
  let p = parameterList(1, 0, [Buffer.from(cscd(NAA0)).fill(0xe0, 0, 1)], seg);
  assert.equal(senseOf(await h.run(xcopyCdb(p.length), { data: p })), '5/2607');
  p = parameterList(1, 0, ok, [segment(0, 0, 1, 0, 1, 0x03)]);
  assert.equal(senseOf(await h.run(xcopyCdb(p.length), { data: p })), '5/2609');
  p = parameterList(1, 0, [cscd(NAA0), cscd(NAA0), cscd(NAA0)], seg);
  assert.equal(senseOf(await h.run(xcopyCdb(p.length), { data: p })), '5/2606');
  p = parameterList(1, 0, ok, Array.from({ length: 65 }, () => seg[0]));
  assert.equal(senseOf(await h.run(xcopyCdb(p.length), { data: p })), '5/2608');
  p = parameterList(1, 0, ok, seg);
  assert.equal(senseOf(await h.run(xcopyCdb(p.length - 1), { data: p })), '5/1a00');
  assert.equal(senseOf(await h.run(xcopyCdb(0))), 'GOOD');
});

test('EXTENDED COPY aborts on an unknown CSCD index, an unknown LU, or a range past the end', async () => {
  const h = twoLuns();
  let p = parameterList(1, 0, [cscd(NAA0)], [segment(0, 1, 1, 0, 1)]);
  assert.equal(senseOf(await h.run(xcopyCdb(p.length), { data: p })), 'a/0804');
  p = parameterList(1, 0, [cscd(NAA0), cscd('6001405abcdef0ff')], [segment(0, 1, 1, 0, 1)]);
  assert.equal(senseOf(await h.run(xcopyCdb(p.length), { data: p })), 'a/0804');
  p = parameterList(1, 0, [cscd(NAA0)], [segment(0, 0, 10, 0, 4090)]);
  assert.equal(senseOf(await h.run(xcopyCdb(p.length), { data: p })), 'a/0000');
  const failed = await h.run([0x84, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.equal(failed.data![4], 0x02);
});
