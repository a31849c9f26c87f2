import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlockDevice } from '../block/memory_device.ts';
import { ScsiTargetDevice } from './target_device.ts';
import { cdb, harness, nexus, prParams, runner, senseOf, type Harness } from './testing.ts';
import type { PrStore } from './types.ts';

const A = nexus(1);
const B = nexus(2);
const C = nexus(3);
const K1 = 0x1111n;
const K2 = 0x2222n;

async function register(h: Harness, who: typeof A, key: bigint, flags = 0): Promise<string> {
  return senseOf(await h.run(cdb.prOut(6), { nexus: who, data: prParams(0n, key, flags) }));
}
async function reserve(h: Harness, who: typeof A, key: bigint, type: number): Promise<string> {
  const r = await h.run(cdb.prOut(1, type), { nexus: who, data: prParams(key, 0n) });
  return r.status === 0x18 ? 'CONFLICT' : senseOf(r);
}
async function access(h: Harness, who: typeof A): Promise<[boolean, boolean]> {
  const r = await h.run(cdb.read10(1, 1), { nexus: who });
  const w = await h.run(cdb.write10(1, 1), { nexus: who, data: Buffer.alloc(512) });
  return [r.status === 0, w.status === 0];
}
async function keys(h: Harness, who = A): Promise<{ generation: number; keys: bigint[] }> {
  const d = (await h.run(cdb.prIn(0), { nexus: who })).data!;
  const n = d.readUInt32BE(4) / 8;
  return { generation: d.readUInt32BE(0), keys: Array.from({ length: n }, (_, i) => d.readBigUInt64BE(8 + 8 * i)) };
}

// [type, registered non-holder read/write, unregistered read/write] as libiscsi's ProutReserve.Access* tests.
const ACCESS: [number, string, [boolean, boolean], [boolean, boolean]][] = [
  [1, 'WE', [true, false], [true, false]],
  [3, 'EA', [false, false], [false, false]],
  [5, 'WE-RO', [true, true], [true, false]],
  [6, 'EA-RO', [true, true], [false, false]],
  [7, 'WE-AR', [true, true], [true, false]],
  [8, 'EA-AR', [true, true], [false, false]],
];

for (const [type, name, registered, unregistered] of ACCESS) {
  test(`reservation ${name}: access of holder, registrant and stranger`, async () => {
    const h = harness();
    assert.equal(await register(h, A, K1), 'GOOD');
    assert.equal(await register(h, B, K2), 'GOOD');
    assert.equal(await reserve(h, A, K1, type), 'GOOD');
    assert.deepEqual(await access(h, A), [true, true]);
    assert.deepEqual(await access(h, B), registered);
    assert.deepEqual(await access(h, C), unregistered);
    const rr = (await h.run(cdb.prIn(1))).data!;
    assert.equal(rr.readUInt32BE(4), 16);
    assert.equal(rr.readBigUInt64BE(8), type >= 7 ? 0n : K1);
    assert.equal(rr[21], type);
    assert.equal(await reserve(h, B, K2, type), type >= 7 ? 'GOOD' : 'CONFLICT');
  });
}

test('REGISTER: wrong key conflicts, zero key unregisters, generation counts changes', async () => {
  const h = harness();
  assert.equal(await register(h, A, K1), 'GOOD');
  const reregister = await h.run(cdb.prOut(0), { nexus: A, data: prParams(0n, K1 + 1n) });
  assert.equal(reregister.status, 0x18);
  assert.equal(senseOf(await h.run(cdb.prOut(0), { nexus: A, data: prParams(K1, 0n) })), 'GOOD');
  assert.deepEqual(await keys(h), { generation: 2, keys: [] });
  const bad = await h.run(cdb.prOut(0), { nexus: A, data: Buffer.alloc(20) });
  assert.equal(senseOf(bad), '5/1a00');
});

test('READ KEYS keeps the full ADDITIONAL LENGTH when the allocation truncates', async () => {
  const h = harness();
  await register(h, A, K1);
  const d = (await h.run(cdb.prIn(0, 8))).data!;
  assert.equal(d.length, 8);
  assert.equal(d.readUInt32BE(4), 8);
  assert.equal(senseOf(await h.run(cdb.prIn(5))), '5/2400');
});

test('unregistering the holder releases a non-shared reservation but not an all-registrants one', async () => {
  const h = harness();
  await register(h, A, K1);
  await register(h, B, K2);
  await reserve(h, A, K1, 3);
  await h.run(cdb.prOut(6), { nexus: A, data: prParams(0n, 0n) });
  assert.equal((await h.run(cdb.prIn(1))).data!.readUInt32BE(4), 0);
  await register(h, A, K1);
  await reserve(h, A, K1, 8);
  await h.run(cdb.prOut(6), { nexus: A, data: prParams(0n, 0n) });
  assert.equal((await h.run(cdb.prIn(1))).data![21], 8);
  assert.equal(senseOf(await h.run(cdb.prOut(2, 8), { nexus: B, data: prParams(K2, 0n) })), 'GOOD');
});

test('RELEASE with the wrong type is INVALID RELEASE; CLEAR drops everything and tells the others', async () => {
  const h = harness();
  await register(h, A, K1);
  await register(h, B, K2);
  await reserve(h, A, K1, 1);
  assert.equal(senseOf(await h.run(cdb.prOut(2, 3), { nexus: A, data: prParams(K1, 0n) })), '5/2604');
  const before = (await keys(h)).generation;
  assert.equal(senseOf(await h.run(cdb.prOut(3), { nexus: A, data: prParams(K1, 0n) })), 'GOOD');
  assert.deepEqual(await keys(h), { generation: before + 1, keys: [] });
  assert.equal(senseOf(await h.run(cdb.tur(), { nexus: B })), '6/2a05');
});

test('PREEMPT removes the other registration, takes the reservation and raises UAs', async () => {
  const h = harness();
  await register(h, A, K1);
  await register(h, B, K2);
  await reserve(h, A, K1, 3);
  const gen = (await keys(h)).generation;
  assert.equal(senseOf(await h.run(cdb.prOut(4, 1), { nexus: B, data: prParams(K2, K1) })), 'GOOD');
  const k = await keys(h, B);
  assert.deepEqual(k, { generation: gen + 1, keys: [K2] });
  const rr = (await h.run(cdb.prIn(1), { nexus: B })).data!;
  assert.equal(rr.readBigUInt64BE(8), K2);
  assert.equal(rr[21], 1);
  assert.equal(senseOf(await h.run(cdb.tur(), { nexus: A })), '6/2a05');
  const none = await h.run(cdb.prOut(4, 1), { nexus: B, data: prParams(K2, 0x9999n) });
  assert.equal(none.status, 0x18);
});

test('REGISTER AND MOVE hands the reservation to another initiator port', async () => {
  const h = harness();
  await register(h, A, K1);
  await reserve(h, A, K1, 1);
  const tidText = Buffer.from(`${B.initiatorName},i,0x${B.isid}\0`);
  const tidLength = (tidText.length + 3) & ~3;
  const params = Buffer.alloc(24 + 4 + tidLength);
  params.writeBigUInt64BE(K1, 0);
  params.writeBigUInt64BE(K2, 8);
  params[17] = 0x02;
  params.writeUInt16BE(B.relativeTargetPortId, 18);
  params.writeUInt32BE(4 + tidLength, 20);
  params[24] = 0x45;
  params.writeUInt16BE(tidLength, 26);
  tidText.copy(params, 28);
  assert.equal(senseOf(await h.run(cdb.prOut(7, 1, params.length), { nexus: A, data: params })), 'GOOD');
  assert.deepEqual((await keys(h)).keys, [K2]);
  assert.deepEqual(await access(h, B), [true, true]);
  assert.deepEqual(await access(h, A), [true, false]);
});

test('SPEC_I_PT registers the listed initiator ports; READ FULL STATUS reports TransportIDs', async () => {
  const h = harness();
  const name = Buffer.from(`${B.initiatorName}\0`);
  const len = (name.length + 3) & ~3;
  const params = Buffer.alloc(28 + 4 + len);
  params.writeBigUInt64BE(K1, 8);
  params[20] = 0x08;
  params.writeUInt32BE(4 + len, 24);
  params[28] = 0x05;
  params.writeUInt16BE(len, 30);
  name.copy(params, 32);
  assert.equal(senseOf(await h.run(cdb.prOut(0, 0, params.length), { nexus: A, data: params })), 'GOOD');
  assert.deepEqual((await keys(h)).keys, [K1, K1]);
  assert.equal(await reserve(h, B, K1, 1), 'GOOD');
  const full = (await h.run(cdb.prIn(3))).data!;
  assert.ok(full.readUInt32BE(4) > 48);
  assert.equal(full[8 + 12] & 1, 0);
  assert.ok(full.includes(Buffer.from(A.initiatorName)));
});

test('REPORT CAPABILITIES lists all six types and APTPL capability with a store', async () => {
  const h = harness({ config: { prStore: { load: () => undefined, save: async () => {} } } });
  const d = (await h.run(cdb.prIn(2))).data!;
  assert.equal(d.readUInt16BE(0), 8);
  assert.equal(d[2] & 0x01, 1);
  assert.equal(d.readUInt16BE(4), 0xea01);
});

test('APTPL state is saved before completion and restored by a new target device', async () => {
  let saved: unknown;
  const store: PrStore = { load: () => saved, save: async (s) => { saved = structuredClone(s); } };
  const device = new MemoryBlockDevice({ blockCount: 100 });
  const t1 = new ScsiTargetDevice();
  t1.addLun(0, { device, naaId: '6001405abcdef012', serial: 'S', prStore: store });
  const run1 = runner(t1);
  assert.equal(senseOf(await run1(cdb.prOut(6), { nexus: A, data: prParams(0n, K1, 0x01) })), 'GOOD');
  assert.equal(senseOf(await run1(cdb.prOut(1, 3), { nexus: A, data: prParams(K1, 0n) })), 'GOOD');
  assert.ok(saved);
  const t2 = new ScsiTargetDevice();
  t2.addLun(0, { device, naaId: '6001405abcdef012', serial: 'S', prStore: store });
  const run2 = runner(t2);
  assert.equal((await run2(cdb.read10(0, 1), { nexus: B })).status, 0x18);
  assert.equal((await run2(cdb.read10(0, 1), { nexus: A })).status, 0);
  const caps = (await run2(cdb.prIn(2))).data!;
  assert.equal(caps[3] & 0x01, 1);
  assert.equal(senseOf(await run2(cdb.prOut(3), { nexus: A, data: prParams(K1, 0n) })), 'GOOD');
  assert.equal(senseOf(await run2(cdb.prOut(6), { nexus: A, data: prParams(0n, K2) })), 'GOOD');
  assert.equal(saved, undefined);
});

test('APTPL without a store is refused', async () => {
  const h = harness();
  assert.equal(senseOf(await h.run(cdb.prOut(6), { nexus: A, data: prParams(0n, K1, 0x01) })), '5/2600');
});

test('RESERVE(6) excludes other nexuses until released, a reset, or the holder leaves', async () => {
  const h = harness();
  assert.equal(senseOf(await h.run([0x16, 0, 0, 0, 0, 0], { nexus: A })), 'GOOD');
  assert.equal((await h.run(cdb.read10(0, 1), { nexus: B })).status, 0x18);
  assert.equal((await h.run(cdb.inquiry(false, 0), { nexus: B })).status, 0);
  assert.equal((await h.run([0x16, 0, 0, 0, 0, 0], { nexus: B })).status, 0x18);
  assert.equal(senseOf(await h.run([0x17, 0, 0, 0, 0, 0], { nexus: B })), 'GOOD');
  assert.equal((await h.run(cdb.read10(0, 1), { nexus: B })).status, 0x18);
  h.target.nexusRemoved(A);
  assert.equal((await h.run(cdb.read10(0, 1), { nexus: B })).status, 0);
  assert.equal(senseOf(await h.run([0x16, 0, 0, 0, 0, 0], { nexus: B })), 'GOOD');
  h.target.lunReset(B, 0);
  await h.run(cdb.tur(), { nexus: A });
  assert.equal(senseOf(await h.run([0x16, 0, 0, 0, 0, 0], { nexus: A })), 'GOOD');
  assert.equal(await register(h, C, K1), 'status 24');
  await h.run([0x17, 0, 0, 0, 0, 0], { nexus: A });
  assert.equal(await register(h, C, K1), 'GOOD');
  assert.equal((await h.run([0x16, 0, 0, 0, 0, 0], { nexus: A })).status, 0x18);
});
