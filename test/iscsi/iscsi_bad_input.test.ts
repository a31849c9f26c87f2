import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { InitiatorOpcode as Op, RejectReason, TargetOpcode } from '../../src/iscsi/constants.ts';
import { crc32c } from '../../src/util/crc32c.ts';
import { encodePdu } from '../../src/iscsi/pdu.ts';
import { encodeText } from '../../src/iscsi/text.ts';
import { iscsiCounters, type IscsiServer } from '../../src/iscsi/index.ts';
import { RawInitiator, READ10, WRITE10 } from './raw_initiator.ts';
import { startServer } from './harness.ts';

/** Raw-socket abuse of the target (SCSI side: the in-memory test double). */
const IQN = 'iqn.2026-01.io.berth:bad';
const INIT = 'iqn.2026-01.io.test:raw';
let server: IscsiServer;
let port: number;
const open: RawInitiator[] = [];

before(async () => {
  ({ server, port } = await startServer([{ iqn: IQN }]));
});
after(async () => {
  for (const c of open) c.close();
  await server.close();
});

async function loggedIn(keys: Record<string, string> = {}, isid?: string): Promise<RawInitiator> {
  const c = await RawInitiator.open(port);
  open.push(c);
  const r = await c.login({ InitiatorName: INIT, TargetName: IQN, ...keys }, isid ?? randomBytes(6).toString('hex'));
  assert.equal(r.pdu.fields.statusClass, 0);
  return c;
}

async function pingWorks(c: RawInitiator): Promise<boolean> {
  const itt = c.nop(Buffer.from('ping'));
  const r = await c.next();
  return r?.pdu.opcode === TargetOpcode.NOP_IN && r.pdu.fields.itt === itt && r.data.toString() === 'ping';
}

test('an unknown opcode in full feature phase gets Reject (command not supported) and the session goes on', async () => {
  const c = await loggedIn();
  const bhs = Buffer.alloc(48);
  bhs[0] = 0x1c;
  c.sendRaw(bhs);
  const r = await c.next();
  assert.equal(r?.pdu.opcode, TargetOpcode.REJECT);
  assert.equal(r?.pdu.fields.reason, RejectReason.COMMAND_NOT_SUPPORTED);
  assert.deepEqual(r?.data, bhs);
  assert.ok(await pingWorks(c));
});

test('a SCSI command before login ends the login with 02/0B and closes', async () => {
  const c = await RawInitiator.open(port);
  open.push(c);
  c.scsi(READ10(0, 1), { read: true, edtl: 512 });
  const r = await c.next();
  assert.equal(r?.pdu.opcode, TargetOpcode.LOGIN_RESPONSE);
  assert.equal(r?.pdu.fields.statusClass, 2);
  assert.equal(r?.pdu.fields.statusDetail, 0x0b);
  assert.ok(await c.closedWithin(2000));
});

test('a lying data segment length (16 MiB) drops only that connection', async () => {
  const good = await loggedIn();
  const bad = await loggedIn();
  const bhs = encodePdu(Op.NOP_OUT, { immediate: true, itt: 5, ttt: 0xffffffff });
  bhs.writeUIntBE(0xffffff, 5, 3);
  bad.sendRaw(bhs);
  assert.ok(await bad.closedWithin(2000));
  assert.ok(await pingWorks(good));
});

test('a data segment over the login limit (8 KiB) during login drops the connection', async () => {
  const c = await RawInitiator.open(port);
  open.push(c);
  c.send(Op.LOGIN_REQUEST, { immediate: true, transit: true, csg: 1, nsg: 3, isid: '400000000001', itt: 1, cmdSN: 1 }, Buffer.alloc(9000, 0x41));
  assert.ok(await c.closedWithin(2000));
});

test('a wrong header digest drops the connection; a wrong data digest gets Reject 0x02; /metrics counts both', async () => {
  const c = await loggedIn({ HeaderDigest: 'CRC32C', DataDigest: 'CRC32C' });
  const before = { ...iscsiCounters };
  // A NOP-Out with a correct header digest and a broken data digest.
  const data = Buffer.from('abcd');
  const bhs = encodePdu(Op.NOP_OUT, { immediate: true, itt: 77, ttt: 0xffffffff, cmdSN: c.cmdSN, dataSegmentLength: 4 });
  const hd = Buffer.alloc(4);
  hd.writeUInt32LE(crc32c(bhs));
  const dd = Buffer.alloc(4);
  dd.writeUInt32LE((crc32c(data) ^ 0xff) >>> 0);
  c.socket.write(Buffer.concat([bhs, hd, data, dd]));
  // The reply carries digests too; our raw reader does not expect them, so read raw bytes.
  const reply = await new Promise<Buffer>((resolve) => c.socket.once('data', resolve));
  assert.equal(reply[0] & 0x3f, TargetOpcode.REJECT);
  assert.equal(reply[2], RejectReason.DATA_DIGEST_ERROR);
  assert.equal(iscsiCounters.dataDigestErrors, before.dataDigestErrors + 1);
  hd.writeUInt32LE((crc32c(bhs) ^ 1) >>> 0);
  c.socket.write(Buffer.concat([bhs, hd, data, dd]));
  assert.ok(await c.closedWithin(2000));
  assert.equal(iscsiCounters.headerDigestErrors, before.headerDigestErrors + 1);
});

test('a TargetName longer than 223 bytes fails the login with 02/07', async () => {
  const c = await RawInitiator.open(port);
  open.push(c);
  const r = await c.login({ InitiatorName: INIT, TargetName: `iqn.2026-01.io.x:${'a'.repeat(240)}` });
  assert.equal(r.pdu.fields.statusClass, 2);
  assert.equal(r.pdu.fields.statusDetail, 7);
  assert.ok(await c.closedWithin(2000));
});

test('login text beyond 64 KiB across continued PDUs fails with 02/00', async () => {
  const c = await RawInitiator.open(port);
  open.push(c);
  const chunk = encodeText([['X-pad', 'p'.repeat(8000)]]);
  let last;
  for (let i = 0; i < 10 && !c.closed; i++) {
    c.send(Op.LOGIN_REQUEST, { immediate: true, continue: true, csg: 0, nsg: 0, isid: '400000000002', itt: 1, cmdSN: 1 }, chunk);
    last = await c.next();
    if (last?.pdu.fields.statusClass !== 0) break;
  }
  assert.equal(last?.pdu.fields.statusClass, 2);
  assert.equal(last?.pdu.fields.statusDetail, 0);
});

test('Data-Out for an unknown transfer tag gets Reject (invalid PDU field)', async () => {
  const c = await loggedIn();
  c.send(Op.SCSI_DATA_OUT, { final: true, itt: 999, ttt: 12345, dataSN: 0, bufferOffset: 0 }, Buffer.alloc(512));
  const r = await c.next();
  assert.equal(r?.pdu.opcode, TargetOpcode.REJECT);
  assert.equal(r?.pdu.fields.reason, RejectReason.INVALID_PDU_FIELD);
  assert.ok(await pingWorks(c));
});

test('commands are executed in CmdSN order even when they arrive out of order', async () => {
  const c = await loggedIn({ ImmediateData: 'Yes', InitialR2T: 'No' });
  const first = c.cmdSN;
  // Second command (CmdSN+1) first: a write of 0x22; then CmdSN: a write of 0x11 to the same block.
  c.cmdSN = first + 1;
  c.scsi(WRITE10(10, 1), { write: true, edtl: 512, data: Buffer.alloc(512, 0x22), itt: 501 });
  c.cmdSN = first;
  c.scsi(WRITE10(10, 1), { write: true, edtl: 512, data: Buffer.alloc(512, 0x11), itt: 500 });
  c.cmdSN = first + 2;
  const a = await c.next();
  const b = await c.next();
  assert.deepEqual([a?.pdu.fields.itt, b?.pdu.fields.itt], [500, 501]);
  c.scsi(READ10(10, 1), { read: true, edtl: 512 });
  const r = await c.next();
  assert.deepEqual(r?.data, Buffer.alloc(512, 0x22));
});

test('a command outside the CmdSN window is ignored, the next valid one answered', async () => {
  const c = await loggedIn();
  const sn = c.cmdSN;
  c.cmdSN = sn + 100000;
  c.scsi(Buffer.from([0, 0, 0, 0, 0, 0]), { itt: 700 });
  c.cmdSN = sn;
  c.scsi(Buffer.from([0, 0, 0, 0, 0, 0]), { itt: 701 });
  const r = await c.next();
  assert.equal(r?.pdu.fields.itt, 701);
  assert.equal(r?.pdu.fields.status, 0);
});

test('bidirectional commands are rejected, and writes with unannounced immediate data too', async () => {
  const c = await loggedIn({ ImmediateData: 'No' });
  c.scsi(READ10(0, 1), { read: true, write: true, edtl: 512 });
  let r = await c.next();
  assert.equal(r?.pdu.fields.reason, RejectReason.COMMAND_NOT_SUPPORTED);
  c.scsi(WRITE10(0, 1), { write: true, edtl: 512, data: Buffer.alloc(512) });
  r = await c.next();
  assert.equal(r?.pdu.fields.reason, RejectReason.PROTOCOL_ERROR);
  assert.ok(await pingWorks(c));
});

test('random garbage on fresh connections never hurts the server', async () => {
  const good = await loggedIn();
  for (let i = 0; i < 30; i++) {
    const c = await RawInitiator.open(port);
    open.push(c);
    c.sendRaw(randomBytes(48 + (i % 7) * 100));
    if (i % 3 === 0) c.close();
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(await pingWorks(good));
  assert.equal(server.sessions().filter((s) => s.initiatorName === INIT).length >= 1, true);
});

test('a misbehaving session does not disturb I/O on another', async () => {
  const good = await loggedIn();
  const bad = await loggedIn();
  good.scsi(WRITE10(0, 8), { write: true, edtl: 4096, data: Buffer.alloc(4096, 0x3c) });
  assert.equal((await good.next())?.pdu.fields.status, 0);
  bad.sendRaw(randomBytes(200));
  bad.sendRaw(Buffer.alloc(48, 0xff));
  for (let i = 0; i < 20; i++) {
    good.scsi(READ10(0, 8), { read: true, edtl: 4096 });
    const r = await good.next();
    assert.deepEqual(r?.data, Buffer.alloc(4096, 0x3c));
  }
});
