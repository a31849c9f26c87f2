import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InitiatorOpcode, TargetOpcode } from './constants.ts';
import type { RawPdu } from './framer.ts';
import { ioBuffers } from './io_buffer_pool.ts';
import { rfcDefaults } from './negotiation.ts';
import { handleDataOut, handleScsiCommand, placeData, type DataPathConnection } from './scsi_command.ts';
import { Session, type SessionConnection } from './session.ts';
import type { ScsiResponse, ScsiTarget, ScsiTask } from '../scsi/types.ts';
import { silentLogger } from '../util/log.ts';

const KiB = 1024;
const BURST = 256 * KiB;

/** A target whose commands settle when the test says so. */
function fakeTarget(reusable: boolean) {
  const seen: ScsiTask[] = [];
  const settle: ((r: ScsiResponse) => void)[] = [];
  const target: ScsiTarget = {
    execute(task) { seen.push(task); return new Promise((r) => settle.push(r)); },
    luns: () => [0], lunReset: () => true, targetReset: () => undefined, nexusAdded: () => undefined, nexusRemoved: () => undefined,
    dataOutReusable: () => reusable,
  };
  return { target, seen, settle };
}

function fakeConnection() {
  const sent: { opcode: number; bhs: Buffer; data?: Buffer; onSent?: () => void }[] = [];
  let pushes = 0;
  const c: DataPathConnection & { remoteAddress: string; execute: () => void } = {
    remoteAddress: 'x', execute: () => undefined,
    send: (bhs, data, onSent) => { sent.push({ opcode: bhs[0] & 0x3f, bhs, data, onSent }); },
    sendQueuedNow: () => { pushes++; },
    takeStatSN: () => 1, peekStatSN: () => 1,
    reject: () => { throw new Error('unexpected reject'); }, destroy: () => undefined,
  };
  return { c, sent, pushes: () => pushes };
}

function session(target: ScsiTarget, conn: SessionConnection): Session {
  const params = { ...rfcDefaults(), immediateData: true, initialR2T: false, firstBurstLength: BURST, maxBurstLength: BURST,
    initiatorMaxRecvDataSegmentLength: BURST, targetMaxRecvDataSegmentLength: BURST, maxOutstandingR2T: 1 };
  return new Session({ tsih: 1, initiatorName: 'iqn.i', isid: '000000000001', target: { iqn: 'iqn.t', scsi: target }, params, cmdSN: 0, tpgt: 1 },
    conn, silentLogger());
}

function commandBhs(itt: number, edtl: number, immLength: number, write: boolean): Buffer {
  const b = Buffer.alloc(48);
  b[0] = InitiatorOpcode.SCSI_COMMAND;
  b[1] = 0x80 | (write ? 0x20 : 0x40) | 1;
  b.writeUIntBE(immLength, 5, 3);
  b.writeUInt32BE(itt, 16);
  b.writeUInt32BE(edtl, 20);
  b[32] = write ? 0x2a : 0x28;
  return b;
}

function dataOutBhs(itt: number, ttt: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(48);
  b[0] = InitiatorOpcode.SCSI_DATA_OUT;
  b[1] = 0x80;
  b.writeUIntBE(length, 5, 3);
  b.writeUInt32BE(itt, 16);
  b.writeUInt32BE(ttt, 20);
  b.writeUInt32BE(offset, 40);
  return b;
}

/** Runs a 1 MiB write the way the framer would: data placed where placeData says. */
function writeOneMiB(s: Session, c: DataPathConnection, sent: { opcode: number; bhs: Buffer }[], itt: number, fill: number): void {
  const edtl = 1024 * KiB;
  const bhs = commandBhs(itt, edtl, BURST, true);
  const imm = placeData(s, bhs, BURST)!;
  imm.fill(fill);
  handleScsiCommand(s, c, { bhs, ahs: undefined, data: imm, dataDigestOk: true } as RawPdu);
  for (let n = 0; n < 3; n++) {
    const r2t = sent.at(-1)!;
    assert.equal(r2t.opcode, TargetOpcode.R2T);
    const ttt = r2t.bhs.readUInt32BE(20);
    const off = r2t.bhs.readUInt32BE(40);
    const d = dataOutBhs(itt, ttt, off, BURST);
    const dest = placeData(s, d, BURST)!;
    dest.fill(fill + 1 + n);
    handleDataOut(s, c, { bhs: d, ahs: undefined, data: dest, dataDigestOk: true });
  }
}

for (const reusable of [true, false]) {
  test(`write data is placed once into a pooled buffer, which goes back only if the target allows (${reusable})`, async () => {
    const t = fakeTarget(reusable);
    const conn = fakeConnection();
    const s = session(t.target, conn.c);
    writeOneMiB(s, conn.c, conn.sent, 7, 1);
    assert.equal(conn.pushes(), 3, 'every R2T goes out at once');
    assert.equal(t.seen.length, 1);
    const data = t.seen[0].dataOut!;
    for (let q = 0; q < 4; q++) assert.ok(data.subarray(q * BURST, (q + 1) * BURST).every((x) => x === 1 + q));
    const idle = ioBuffers.idleBytes;
    t.settle[0]({ status: 0, dataOutLength: data.length });
    await new Promise((r) => setImmediate(r));
    assert.equal(conn.sent.at(-1)!.opcode, TargetOpcode.SCSI_RESPONSE);
    assert.equal(ioBuffers.idleBytes - idle, reusable ? 1024 * KiB : 0);
    // The next write gets the same memory only if it was given back.
    writeOneMiB(s, conn.c, conn.sent, 8, 5);
    assert.equal(t.seen[1].dataOut!.buffer === data.buffer, reusable);
  });
}

test('read data goes out from a lent buffer that returns to the pool once the socket has sent it', async () => {
  const t = fakeTarget(false);
  const conn = fakeConnection();
  const s = session(t.target, conn.c);
  handleScsiCommand(s, conn.c, { bhs: commandBhs(9, 1024 * KiB, 0, false), ahs: undefined, data: Buffer.alloc(0), dataDigestOk: true });
  const lent = t.seen[0].dataInBuffer!;
  assert.equal(lent.length, 1024 * KiB);
  lent.fill(0x42);
  const idle = ioBuffers.idleBytes;
  t.settle[0]({ status: 0, data: lent });
  await new Promise((r) => setImmediate(r));
  const dataIns = conn.sent.filter((p) => p.opcode === TargetOpcode.SCSI_DATA_IN);
  assert.equal(dataIns.length, 4);
  assert.ok(dataIns.every((p) => p.data!.buffer === lent.buffer));
  assert.deepEqual(dataIns.map((p) => p.onSent !== undefined), [false, false, false, true]);
  assert.equal(ioBuffers.idleBytes, idle, 'not back before the socket is done');
  dataIns[3].onSent!();
  assert.equal(ioBuffers.idleBytes - idle, 1024 * KiB);
});

test('a lent read buffer the response does not use goes back when the command settles', async () => {
  const t = fakeTarget(false);
  const conn = fakeConnection();
  const s = session(t.target, conn.c);
  handleScsiCommand(s, conn.c, { bhs: commandBhs(10, 64 * KiB, 0, false), ahs: undefined, data: Buffer.alloc(0), dataDigestOk: true });
  const idle = ioBuffers.idleBytes;
  t.settle[0]({ status: 0, data: Buffer.alloc(64 * KiB) });
  await new Promise((r) => setImmediate(r));
  assert.equal(ioBuffers.idleBytes - idle, 64 * KiB);
});

/** A command PDU with only the F bit (no R, no W) and Expected Data Transfer Length 0. */
function noDataCommandBhs(itt: number, cdb: readonly number[]): Buffer {
  const b = Buffer.alloc(48);
  b[0] = InitiatorOpcode.SCSI_COMMAND;
  b[1] = 0x80 | 1;
  b.writeUInt32BE(itt, 16);
  Buffer.from(cdb).copy(b, 32);
  return b;
}

test('a WRITE(10) or READ(10) of 8 blocks sent with EDTL 0 and no W/R bit gets GOOD with an overflow residual of the whole length', async () => {
  const cases = [
    { cdb: [0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0], res: { status: 0, dataOutLength: 4096 } },
    { cdb: [0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0], res: { status: 0, data: Buffer.alloc(4096) } },
  ];
  for (const [i, k] of cases.entries()) {
    const t = fakeTarget(false);
    const conn = fakeConnection();
    const s = session(t.target, conn.c);
    handleScsiCommand(s, conn.c, { bhs: noDataCommandBhs(20 + i, k.cdb), ahs: undefined, data: Buffer.alloc(0), dataDigestOk: true });
    assert.equal(t.seen[0].expectedLength, 0);
    assert.equal(t.seen[0].dataOut, undefined, 'no data was announced, so none is written');
    t.settle[0](k.res);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(conn.sent.map((p) => p.opcode), [TargetOpcode.SCSI_RESPONSE], 'no Data-In for an EDTL of 0');
    const rsp = conn.sent[0].bhs;
    assert.equal(rsp[3], 0, 'status GOOD');
    assert.equal(rsp[1] & 0x06, 0x04, `residual overflow, not underflow, for ${k.cdb[0].toString(16)}`);
    assert.equal(rsp.readUInt32BE(44), 4096, 'residual count: the whole transfer');
  }
});

test('a command without data (TEST UNIT READY) and without R/W bits has no residual', async () => {
  const t = fakeTarget(false);
  const conn = fakeConnection();
  const s = session(t.target, conn.c);
  handleScsiCommand(s, conn.c, { bhs: noDataCommandBhs(30, [0, 0, 0, 0, 0, 0]), ahs: undefined, data: Buffer.alloc(0), dataDigestOk: true });
  t.settle[0]({ status: 0 });
  await new Promise((r) => setImmediate(r));
  assert.equal(conn.sent[0].bhs[1] & 0x06, 0);
  assert.equal(conn.sent[0].bhs.readUInt32BE(44), 0);
});
