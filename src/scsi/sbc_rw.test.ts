import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediumError, NoSpaceError } from '../block/errors.ts';
import { cdb, harness, nexus, senseOf, task } from './testing.ts';

test('WRITE(10) then READ(10) returns the data; DPO/FUA accepted, FUA reaches the device', async () => {
  const h = harness();
  const data = Buffer.alloc(2048, 0x5a);
  const w = await h.run(cdb.write10(10, 4, 0x18), { data });
  assert.equal(senseOf(w), 'GOOD');
  assert.equal(w.dataOutLength, 2048);
  assert.equal(h.device.stats.fuaWrites, 1);
  const r = await h.run(cdb.read10(10, 4, 0x18));
  assert.deepEqual(r.data, data);
});

test('READ/WRITE 16 beyond the end, or with a huge LBA, are LBA OUT OF RANGE', async () => {
  const h = harness({ blockCount: 100 });
  assert.equal(senseOf(await h.run(cdb.read16(99, 2))), '5/2100');
  assert.equal(senseOf(await h.run(cdb.read16(0xffffffffffffffffn, 1))), '5/2100');
  assert.equal(senseOf(await h.run(cdb.write16(100, 1), { data: Buffer.alloc(512) })), '5/2100');
  assert.equal(senseOf(await h.run(cdb.read10(101, 0))), '5/2100');
  assert.equal(senseOf(await h.run(cdb.read10(0, 0))), 'GOOD');
});

test('RDPROTECT/WRPROTECT without protection information is INVALID FIELD IN CDB', async () => {
  const h = harness();
  assert.equal(senseOf(await h.run(cdb.read10(0, 1, 0x20))), '5/2400');
  assert.equal(senseOf(await h.run(cdb.write10(0, 1, 0x40), { data: Buffer.alloc(512) })), '5/2400');
});

test('a transfer longer than MAXIMUM TRANSFER LENGTH is refused', async () => {
  const h = harness();
  assert.equal(senseOf(await h.run(cdb.read16(0, 16385))), '5/2400');
});

test('short data-out writes only the whole blocks received (residual overflow)', async () => {
  const h = harness();
  await h.run(cdb.write10(0, 2), { data: Buffer.alloc(1024, 0x61) });
  const w = await h.run(cdb.write10(0, 2), { data: Buffer.alloc(512, 0x62) });
  assert.equal(senseOf(w), 'GOOD');
  assert.equal(w.dataOutLength, 1024);
  const r = await h.run(cdb.read10(0, 2));
  assert.equal(r.data![0], 0x62);
  assert.equal(r.data![600], 0x61);
  const none = await h.run(cdb.write10(0, 1), { data: Buffer.alloc(200, 0x63) });
  assert.equal(senseOf(none), 'GOOD');
  assert.equal((await h.run(cdb.read10(0, 1))).data![0], 0x62);
});

test('extra data-out beyond the CDB is ignored', async () => {
  const h = harness();
  const w = await h.run(cdb.write10(0, 1), { data: Buffer.alloc(10000, 0x71) });
  assert.equal(w.dataOutLength, 512);
  assert.equal((await h.run(cdb.read10(1, 1))).data![0], 0);
});

test('VERIFY with BYTCHK=1 reports the miscompare offset; BYTCHK=0 does not compare', async () => {
  const h = harness();
  await h.run(cdb.write10(5, 2), { data: Buffer.alloc(1024, 0x11) });
  const good = Buffer.alloc(1024, 0x11);
  assert.equal(senseOf(await h.run(cdb.verify10(5, 2, 1), { data: good })), 'GOOD');
  const bad = Buffer.from(good);
  bad[700] = 0;
  const r = await h.run(cdb.verify10(5, 2, 1), { data: bad });
  assert.equal(senseOf(r), 'e/1d00');
  assert.equal(r.sense!.readUInt32BE(3), 700);
  assert.equal(senseOf(await h.run(cdb.verify10(5, 2, 0))), 'GOOD');
  assert.equal(senseOf(await h.run(cdb.verify10(5, 2, 3), { data: Buffer.alloc(512, 0x11) })), 'GOOD');
  assert.equal(senseOf(await h.run(cdb.verify10(5, 2, 2))), '5/2400');
});

test('WRITE AND VERIFY writes through to the medium', async () => {
  const h = harness();
  const r = await h.run([0x2e, 0x02, 0, 0, 0, 3, 0, 0, 1, 0], { data: Buffer.alloc(512, 9) });
  assert.equal(senseOf(r), 'GOOD');
  assert.equal(h.device.stats.fuaWrites, 1);
  assert.equal((await h.run(cdb.read10(3, 1))).data![0], 9);
});

test('a read-only LU refuses writes with DATA PROTECT / WRITE PROTECTED', async () => {
  const h = harness({ config: { readOnly: true } });
  assert.equal(senseOf(await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512) })), '7/2700');
  assert.equal(senseOf(await h.run(cdb.read10(0, 1))), 'GOOD');
});

test('device errors map to sense: NO_SPACE, MEDIUM_ERROR on read and write', async () => {
  const h = harness();
  h.device.injectFault({ op: 'write', error: new NoSpaceError() });
  assert.equal(senseOf(await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512) })), '7/2707');
  h.device.injectFault({ op: 'write', error: new MediumError('eio') });
  assert.equal(senseOf(await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512) })), '3/0c00');
  h.device.injectFault({ op: 'read', error: new MediumError('eio') });
  assert.equal(senseOf(await h.run(cdb.read10(0, 1))), '3/1100');
  h.device.injectFault({ op: 'read', error: new Error('surprise') });
  assert.equal(senseOf(await h.run(cdb.read10(0, 1))), '4/4400');
});

test('a thin device that runs out of space answers SPACE ALLOCATION FAILED', async () => {
  const h = harness({ capacityLimitBytes: 128 * 512 });
  assert.equal(senseOf(await h.run(cdb.write10(0, 1), { data: Buffer.alloc(512) })), 'GOOD');
  assert.equal(senseOf(await h.run(cdb.write10(1000, 1), { data: Buffer.alloc(512) })), '7/2707');
});

test('READ fills the transport\'s data-in buffer through readInto and returns a view of it', async () => {
  const h = harness();
  const data = Buffer.alloc(4096, 0x3c);
  await h.run(cdb.write10(8, 8), { data });
  const calls: number[] = [];
  const dev = h.device as unknown as { readInto?: (lba: number, count: number, dest: Buffer) => Promise<void> };
  dev.readInto = async (lba, count, dest) => {
    calls.push(lba, count, dest.length);
    (await h.device.read(lba, count)).copy(dest);
  };
  const lent = Buffer.alloc(8192, 0xee);
  const r = await h.target.execute({ ...task(cdb.read10(8, 8), nexus(1)), expectedLength: 8192, dataInBuffer: lent });
  assert.deepEqual(calls, [8, 8, 4096]);
  assert.equal(r.data!.buffer, lent.buffer);
  assert.deepEqual(r.data, data);
  // Without readInto (or with a buffer too small) READ allocates as before.
  const r2 = await h.target.execute({ ...task(cdb.read10(8, 8), nexus(1)), expectedLength: 4096, dataInBuffer: Buffer.alloc(512) });
  assert.notEqual(r2.data!.buffer, lent.buffer);
  assert.deepEqual(r2.data, data);
});

test('only plain WRITEs to a device that releases its buffers let the transport reuse data-out', () => {
  const h = harness();
  assert.equal(h.target.dataOutReusable(0, Buffer.from(cdb.write10(0, 1))), false);
  (h.device as unknown as { releasesWriteBuffers: boolean }).releasesWriteBuffers = true;
  assert.equal(h.target.dataOutReusable(0, Buffer.from(cdb.write10(0, 1))), true);
  assert.equal(h.target.dataOutReusable(0, Buffer.from(cdb.write16(0, 1))), true);
  assert.equal(h.target.dataOutReusable(1, Buffer.from(cdb.write10(0, 1))), false);
  assert.equal(h.target.dataOutReusable(0, Buffer.from([0x2e, 0, 0, 0, 0, 0, 0, 0, 1, 0])), false, 'WRITE AND VERIFY');
  assert.equal(h.target.dataOutReusable(0, Buffer.from([0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])), false, 'COMPARE AND WRITE');
});
