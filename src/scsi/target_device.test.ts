import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlockDevice } from '../block/memory_device.ts';
import { errorCode } from '../util/errors.ts';
import { ScsiTargetDevice } from './target_device.ts';
import { cdb, harness, nexus, senseOf, task } from './testing.ts';

test('a new nexus gets POWER ON RESET once; INQUIRY and REPORT LUNS do not consume it', async () => {
  const t = new ScsiTargetDevice();
  t.addLun(0, { device: new MemoryBlockDevice({ blockCount: 10 }), naaId: '6001405abcdef012', serial: 'S' });
  const n = nexus(1);
  assert.equal(senseOf(await t.execute(task(cdb.inquiry(false, 0), n))), 'GOOD');
  assert.equal(senseOf(await t.execute(task(cdb.reportLuns(), n))), 'GOOD');
  assert.equal(senseOf(await t.execute(task(cdb.read10(0, 1), n))), '6/2900');
  assert.equal(senseOf(await t.execute(task(cdb.read10(0, 1), n))), 'GOOD');
});

test('addLun and removeLun: errors by code, REPORTED LUNS DATA HAS CHANGED for every nexus', async () => {
  const h = harness();
  const dev = () => ({ device: new MemoryBlockDevice({ blockCount: 10 }), naaId: '6001405abcdef013', serial: 'S1' });
  assert.throws(() => h.target.addLun(0, dev()), (e) => errorCode(e) === 'LUN_EXISTS');
  assert.throws(() => h.target.removeLun(7), (e) => errorCode(e) === 'LUN_NOT_FOUND');
  await h.run(cdb.tur());
  await h.run(cdb.tur(), { nexus: nexus(2) });
  h.target.addLun(1, dev());
  assert.deepEqual(h.target.luns(), [0, 1]);
  assert.equal(senseOf(await h.run(cdb.tur())), '6/3f0e');
  h.target.removeLun(1);
  assert.equal(senseOf(await h.run(cdb.tur(), { nexus: nexus(2) })), '6/3f0e');
  assert.equal(senseOf(await h.run(cdb.tur(), { lun: 1 })), '5/2500');
});

test('capacityChanged raises CAPACITY DATA HAS CHANGED and READ CAPACITY shows the new size', async () => {
  const h = harness({ blockCount: 100 });
  await h.run(cdb.tur());
  h.device.resize(200);
  h.target.capacityChanged(0);
  assert.equal(senseOf(await h.run(cdb.readCapacity16())), '6/2a09');
  assert.equal((await h.run(cdb.readCapacity16())).data!.readBigUInt64BE(0), 199n);
  const rc10 = (await h.run([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0])).data!;
  assert.equal(rc10.readUInt32BE(0), 199);
  assert.equal(rc10.readUInt32BE(4), 512);
});

test('LUN reset tells every nexus, the one that asked included', async () => {
  const h = harness();
  await h.run(cdb.tur(), { nexus: nexus(2) });
  await h.run(cdb.tur());
  assert.equal(h.target.lunReset(nexus(1), 0), true);
  assert.equal(h.target.lunReset(nexus(1), 9), false);
  assert.equal(senseOf(await h.run(cdb.tur())), '6/2903');
  assert.equal(senseOf(await h.run(cdb.tur(), { nexus: nexus(2) })), '6/2903');
  h.target.targetReset(nexus(1));
  assert.equal(senseOf(await h.run(cdb.tur())), '6/2900');
});

test('an ordered task waits for earlier tasks, and later tasks wait for it', async () => {
  const h = harness();
  await h.run(cdb.tur());
  const order: string[] = [];
  const slow = h.device.read.bind(h.device);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  h.device.read = async (lba, count) => { if (lba === 1) await gate; return slow(lba, count); };
  const first = h.run(cdb.read10(1, 1)).then(() => order.push('simple-before'));
  const ordered = h.run(cdb.write10(2, 1), { data: Buffer.alloc(512), attribute: 2 }).then(() => order.push('ordered'));
  const after = h.run(cdb.read10(3, 1)).then(() => order.push('simple-after'));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(order, []);
  release();
  await Promise.all([first, ordered, after]);
  assert.deepEqual(order, ['simple-before', 'ordered', 'simple-after']);
});

test('SANITIZE OVERWRITE fills the medium; meanwhile commands get NOT READY with progress', async () => {
  const h = harness({ blockCount: 64 * 1024, config: { sanitizeBytesPerSecond: 64 * 1024 * 512 * 4 } });
  await h.run(cdb.tur());
  const params = Buffer.alloc(4 + 512, 0xa5);
  params[0] = 0x01; params[1] = 0; params.writeUInt16BE(512, 2);
  // The sweep's first write waits for us, so the commands below surely run while it is busy.
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const sweeping = new Promise<void>((r) => { reached = r; });
  const write = h.device.write.bind(h.device);
  h.device.write = async (lba, data, fua) => { reached(); await gate; return write(lba, data, fua); };
  const done = h.run([0x48, 0x01, 0, 0, 0, 0, 0, 0x02, 0x04, 0], { data: params });
  await sweeping;
  const busy = await h.run(cdb.tur());
  assert.equal(senseOf(busy), '2/041b');
  assert.equal(busy.sense![15] & 0x80, 0x80);
  assert.equal(senseOf(await h.run(cdb.inquiry(false, 0))), 'GOOD');
  release();
  assert.equal(senseOf(await done), 'GOOD');
  assert.ok((await h.run(cdb.read10(60000, 8))).data!.every((b) => b === 0xa5));
});

test('SANITIZE checks its service action, reserved bytes and parameter list', async () => {
  const h = harness({ blockCount: 1024 });
  assert.equal(senseOf(await h.run([0x48, 0x04, 0, 0, 0, 0, 0, 0, 0, 0])), '5/2400');
  assert.equal(senseOf(await h.run([0x48, 0x42, 0, 0, 0, 0, 0, 0, 0, 0])), '5/2400');
  assert.equal(senseOf(await h.run([0x48, 0x02, 0, 3, 0, 0, 0, 0, 0, 0])), '5/2400');
  assert.equal(senseOf(await h.run([0x48, 0x02, 0, 0, 0, 0, 0, 0, 8, 0], { data: Buffer.alloc(8) })), '5/2400');
  assert.equal(senseOf(await h.run([0x48, 0x01, 0, 0, 0, 0, 0, 0, 4, 0], { data: Buffer.alloc(4) })), '5/2400');
  const noCount = Buffer.alloc(8); noCount.writeUInt16BE(4, 2);
  assert.equal(senseOf(await h.run([0x48, 0x01, 0, 0, 0, 0, 0, 0, 8, 0], { data: noCount })), '5/2600');
  await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512, 1) });
  assert.equal(senseOf(await h.run([0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0])), 'GOOD');
  assert.equal((await h.run(cdb.read10(0, 1))).data![0], 0);
  assert.equal((await h.run(cdb.getLbaStatus(0))).data![20], 1);
});

test('execute never throws: a short CDB gets INVALID FIELD IN CDB', async () => {
  const h = harness();
  assert.equal(senseOf(await h.run(Buffer.from([0x28, 0, 0]))), '5/2400');
});
