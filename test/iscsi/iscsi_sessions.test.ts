import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { InitiatorOpcode as Op, TargetOpcode, TaskMgmtFunction, TaskMgmtResponse } from '../../src/iscsi/constants.ts';
import { encodePdu } from '../../src/iscsi/pdu.ts';
import type { IscsiServer } from '../../src/iscsi/index.ts';
import { MemoryScsiTarget } from './memory_scsi_target.ts';
import { RawInitiator, READ10, WRITE10 } from './raw_initiator.ts';
import { run, startServer } from './harness.ts';

/** Session life cycle: reinstatement, logout, disconnects, task management (SCSI side: test double). */
const IQN = 'iqn.2026-01.io.berth:sess';
const INIT = 'iqn.2026-01.io.test:sess';
let server: IscsiServer;
let port: number;
let scsi: MemoryScsiTarget;
const open: RawInitiator[] = [];

before(async () => {
  scsi = new MemoryScsiTarget({ 0: 4 * 1024 * 1024, 1: 1024 * 1024 });
  ({ server, port } = await startServer([{ iqn: IQN, scsi }], { nopInIntervalMs: 0 }));
});
after(async () => {
  for (const c of open) c.close();
  await server.close();
});

async function login(isid: string, tsih = 0): Promise<{ c: RawInitiator; tsih: number; status: number }> {
  const c = await RawInitiator.open(port);
  open.push(c);
  const r = await c.login({ InitiatorName: INIT, TargetName: IQN }, isid, tsih);
  return { c, tsih: r.pdu.fields.tsih as number, status: ((r.pdu.fields.statusClass as number) << 8) | (r.pdu.fields.statusDetail as number) };
}

const until = async (cond: () => boolean, ms = 2000): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

const nexusId = (isid: string): string => `${INIT},i,0x${isid}|${IQN},t,0x1`;

test('login registers the I_T nexus with the RFC-style id and reports the session', async () => {
  scsi.events.length = 0;
  const { c, tsih } = await login('400001370a01');
  assert.ok(tsih > 0);
  assert.deepEqual(scsi.events, [`added ${nexusId('400001370a01')}`]);
  const s = server.sessions(IQN).find((x) => x.isid === '400001370a01');
  assert.equal(s?.tsih, tsih);
  assert.equal(s?.initiatorName, INIT);
  assert.match(s?.remoteAddress ?? '', /^127\.0\.0\.1:\d+$/);
  c.close();
  assert.ok(await until(() => scsi.events.includes(`removed ${nexusId('400001370a01')}`)));
});

test('the CmdSN window is 128 commands wide, with 40 tasks in flight too', async () => {
  const { c } = await login('400001370a17');
  let release!: () => void;
  scsi.gate = new Promise((r) => (release = r));
  for (let i = 0; i < 40; i++) c.scsi(READ10(i, 1), { read: true, edtl: 512 });
  const ping = c.nop();
  const r = await c.next();
  assert.equal(r?.pdu.fields.itt, ping);
  const exp = r?.pdu.fields.expCmdSN as number;
  const max = r?.pdu.fields.maxCmdSN as number;
  assert.equal(exp, c.cmdSN);
  assert.equal(((max - exp) >>> 0) + 1, 128);
  scsi.gate = undefined;
  release();
  for (let i = 0; i < 40; i++) assert.equal((await c.next())?.pdu.fields.status, 0);
});

test('session reinstatement: same initiator and ISID closes the old session first', async () => {
  scsi.events.length = 0;
  const a = await login('400001370a02');
  const b = await login('400001370a02');
  assert.equal(b.status, 0);
  assert.notEqual(a.tsih, b.tsih);
  assert.ok(await a.c.closedWithin(2000));
  const id = nexusId('400001370a02');
  assert.deepEqual(scsi.events, [`added ${id}`, `removed ${id}`, `added ${id}`]);
  assert.equal(server.sessions(IQN).filter((s) => s.isid === '400001370a02').length, 1);
  // The new session works.
  b.c.scsi(READ10(0, 1), { read: true, edtl: 512 });
  assert.equal((await b.c.next())?.pdu.fields.status, 0);
});

test('a login with the TSIH of a live session replaces its connection; the nexus stays', async () => {
  scsi.events.length = 0;
  const a = await login('400001370a15');
  const b = await login('400001370a15', a.tsih);
  assert.equal(b.status, 0);
  assert.equal(b.tsih, a.tsih);
  assert.ok(await a.c.closedWithin(2000));
  assert.deepEqual(scsi.events, [`added ${nexusId('400001370a15')}`]);
  b.c.cmdSN = 1;
  b.c.scsi(READ10(0, 1), { read: true, edtl: 512 });
  assert.equal((await b.c.next())?.pdu.fields.status, 0);
});

test('a login naming a TSIH that does not exist fails with 02/0A', async () => {
  const { status } = await login('400001370a03', 4242);
  assert.equal(status, 0x020a);
});

test('logout: response, then the connection closes and the nexus goes away', async () => {
  scsi.events.length = 0;
  const { c } = await login('400001370a04');
  c.send(Op.LOGOUT_REQUEST, { immediate: true, reasonCode: 0, itt: 55, cmdSN: c.cmdSN, expStatSN: c.expStatSN });
  const r = await c.next();
  assert.equal(r?.pdu.opcode, TargetOpcode.LOGOUT_RESPONSE);
  assert.equal(r?.pdu.fields.response, 0);
  assert.ok(await c.closedWithin(2000));
  assert.ok(scsi.events.includes(`removed ${nexusId('400001370a04')}`));
});

test('disconnect mid-command: nexus removed, the late result discarded, nothing leaks', async () => {
  scsi.events.length = 0;
  const { c } = await login('400001370a05');
  let release!: () => void;
  scsi.gate = new Promise((r) => (release = r));
  const started = scsi.started;
  c.scsi(READ10(0, 64), { read: true, edtl: 32768 });
  c.scsi(WRITE10(0, 1), { write: true, edtl: 512, data: Buffer.alloc(512) });
  assert.ok(await until(() => scsi.started === started + 2));
  assert.equal(server.sessions(IQN).find((s) => s.isid === '400001370a05')?.commandsInFlight, 2);
  c.close();
  assert.ok(await until(() => scsi.events.includes(`removed ${nexusId('400001370a05')}`)));
  scsi.gate = undefined;
  release();
  assert.ok(await until(() => scsi.finished === scsi.started));
  assert.equal(server.sessions(IQN).some((s) => s.isid === '400001370a05'), false);
  const again = await login('400001370a06');
  again.c.scsi(READ10(0, 1), { read: true, edtl: 512 });
  assert.equal((await again.c.next())?.pdu.fields.status, 0);
});

test('a write waiting for R2T data is dropped on disconnect without reaching the SCSI layer', async () => {
  const { c } = await login('400001370a07');
  const before = scsi.started;
  c.scsi(WRITE10(0, 128), { write: true, edtl: 65536 });
  const r2t = await c.next();
  assert.equal(r2t?.pdu.opcode, TargetOpcode.R2T);
  c.close();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(scsi.started, before);
});

test('R2T-driven write: data solicited in bursts lands intact', async () => {
  const { c } = await login('400001370a08');
  const data = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 13) & 0xff));
  const itt = c.scsi(WRITE10(100, 128), { write: true, edtl: data.length });
  let done = false;
  while (!done) {
    const m = await c.next();
    assert.ok(m);
    if (m.pdu.opcode === TargetOpcode.R2T) {
      const off = m.pdu.fields.bufferOffset as number;
      const len = m.pdu.fields.desiredDataTransferLength as number;
      for (let o = off, sn = 0; o < off + len; o += 8192, sn++) {
        const n = Math.min(8192, off + len - o);
        c.send(Op.SCSI_DATA_OUT, { final: o + n === off + len, itt, ttt: m.pdu.fields.ttt, dataSN: sn, bufferOffset: o, expStatSN: c.expStatSN }, data.subarray(o, o + n));
      }
    } else {
      assert.equal(m.pdu.opcode, TargetOpcode.SCSI_RESPONSE);
      assert.equal(m.pdu.fields.status, 0);
      done = true;
    }
  }
  assert.deepEqual(scsi.disks.get(0)!.subarray(100 * 512, 100 * 512 + data.length), data);
});

test('immediate data split across socket reads, then R2T for the rest: written intact', async () => {
  const { c } = await login('400001370a16');
  const data = Buffer.from(Array.from({ length: 32768 }, (_, i) => (i * 7 + 1) & 0xff));
  const cdb = Buffer.alloc(16);
  WRITE10(300, 64).copy(cdb);
  const itt = 4242;
  const bhs = encodePdu(Op.SCSI_COMMAND, {
    final: true, write: true, attribute: 1, lun: 0, itt, expectedDataTransferLength: data.length,
    cmdSN: c.cmdSN++, expStatSN: c.expStatSN, cdb, dataSegmentLength: 8192,
  });
  c.socket.write(Buffer.concat([bhs, data.subarray(0, 3000)]));
  await new Promise((r) => setTimeout(r, 30));
  c.socket.write(data.subarray(3000, 8192));
  for (;;) {
    const m = await c.next();
    assert.ok(m);
    if (m.pdu.opcode !== TargetOpcode.R2T) {
      assert.equal(m.pdu.fields.status, 0);
      break;
    }
    const off = m.pdu.fields.bufferOffset as number;
    const len = m.pdu.fields.desiredDataTransferLength as number;
    c.send(Op.SCSI_DATA_OUT, { final: true, itt, ttt: m.pdu.fields.ttt, dataSN: 0, bufferOffset: off }, data.subarray(off, off + len));
  }
  assert.deepEqual(scsi.disks.get(0)!.subarray(300 * 512, 300 * 512 + data.length), data);
});

test('a Data-Out with the wrong DataSN fails that command (DATA PHASE ERROR); the session goes on', async () => {
  const { c } = await login('400001370a09');
  const itt = c.scsi(WRITE10(0, 16), { write: true, edtl: 8192 });
  const r2t = await c.next();
  c.send(Op.SCSI_DATA_OUT, { final: false, itt, ttt: r2t?.pdu.fields.ttt ?? 0, dataSN: 5, bufferOffset: 0 }, Buffer.alloc(4096));
  const r = await c.next();
  assert.equal(r?.pdu.opcode, TargetOpcode.SCSI_RESPONSE);
  assert.equal(r?.pdu.fields.status, 2);
  assert.deepEqual([r?.data[2 + 2], r?.data[2 + 12]], [0x0b, 0x4b]);
  // The rest of its data is dropped quietly; the next command works.
  c.send(Op.SCSI_DATA_OUT, { final: true, itt, ttt: r2t?.pdu.fields.ttt ?? 0, dataSN: 6, bufferOffset: 4096 }, Buffer.alloc(4096));
  c.scsi(READ10(0, 1), { read: true, edtl: 512 });
  const ok = await c.next();
  assert.equal(ok?.pdu.opcode, TargetOpcode.SCSI_DATA_IN);
  assert.equal(ok?.pdu.fields.status, 0);
});

test('ABORT TASK on a running task: function complete, and the task sends no response', async () => {
  const { c } = await login('400001370a10');
  let release!: () => void;
  scsi.gate = new Promise((r) => (release = r));
  const itt = c.scsi(READ10(0, 1), { read: true, edtl: 512 });
  await until(() => scsi.started > scsi.finished);
  c.send(Op.SCSI_TASK_MGMT_REQUEST, { immediate: true, function: TaskMgmtFunction.ABORT_TASK, lun: 0, itt: 900, referencedTaskTag: itt, cmdSN: c.cmdSN, expStatSN: c.expStatSN, refCmdSN: c.cmdSN - 1 });
  const r = await c.next();
  assert.equal(r?.pdu.opcode, TargetOpcode.SCSI_TASK_MGMT_RESPONSE);
  assert.equal(r?.pdu.fields.response, TaskMgmtResponse.FUNCTION_COMPLETE);
  scsi.gate = undefined;
  release();
  await until(() => scsi.finished === scsi.started);
  // Only the NOP-In answer arrives, not a SCSI Response for the aborted task.
  const ping = c.nop();
  const next = await c.next();
  assert.equal(next?.pdu.opcode, TargetOpcode.NOP_IN);
  assert.equal(next?.pdu.fields.itt, ping);
});

test('task management answers: unknown task, LUN reset, missing LUN, target reset, unsupported', async () => {
  const { c } = await login('400001370a11');
  const tmf = async (fn: number, lun = 0, rtt = 0xfffffff0): Promise<unknown> => {
    c.send(Op.SCSI_TASK_MGMT_REQUEST, { immediate: true, function: fn, lun, itt: c.itt++, referencedTaskTag: rtt, cmdSN: c.cmdSN, expStatSN: c.expStatSN, refCmdSN: c.cmdSN - 5 });
    return (await c.next())?.pdu.fields.response;
  };
  scsi.events.length = 0;
  assert.equal(await tmf(TaskMgmtFunction.ABORT_TASK), TaskMgmtResponse.TASK_DOES_NOT_EXIST);
  assert.equal(await tmf(TaskMgmtFunction.LOGICAL_UNIT_RESET, 1), TaskMgmtResponse.FUNCTION_COMPLETE);
  assert.equal(await tmf(TaskMgmtFunction.LOGICAL_UNIT_RESET, 9), TaskMgmtResponse.LUN_DOES_NOT_EXIST);
  assert.equal(await tmf(TaskMgmtFunction.ABORT_TASK_SET, 1), TaskMgmtResponse.FUNCTION_COMPLETE);
  assert.equal(await tmf(TaskMgmtFunction.CLEAR_TASK_SET, 7), TaskMgmtResponse.LUN_DOES_NOT_EXIST);
  assert.equal(await tmf(TaskMgmtFunction.TARGET_WARM_RESET), TaskMgmtResponse.FUNCTION_COMPLETE);
  assert.equal(await tmf(TaskMgmtFunction.CLEAR_ACA), TaskMgmtResponse.TASK_MANAGEMENT_FUNCTION_NOT_SUPPORTED);
  assert.equal(await tmf(TaskMgmtFunction.TASK_REASSIGN), TaskMgmtResponse.TASK_ALLEGIANCE_REASSIGNMENT_NOT_SUPPORTED);
  const id = nexusId('400001370a11');
  // A LUN that does not exist never reaches the SCSI layer.
  assert.deepEqual(scsi.events, [`lunReset ${id} 1`, `abort ${id} 1`, `targetReset ${id}`]);
});

test('text request SendTargets in a normal session names only that target', async () => {
  const { c } = await login('400001370a12');
  c.send(Op.TEXT_REQUEST, { final: true, itt: 77, ttt: 0xffffffff, cmdSN: c.cmdSN++, expStatSN: c.expStatSN }, Buffer.from('SendTargets=All\0'));
  const r = await c.next();
  assert.equal(r?.pdu.opcode, TargetOpcode.TEXT_RESPONSE);
  assert.equal(r?.data.toString(), `TargetName=${IQN}\0TargetAddress=127.0.0.1:${port},1\0`);
});

test('removeTarget closes its sessions; a later login gets 02/03', async () => {
  const extra = 'iqn.2026-01.io.berth:gone';
  const s2 = new MemoryScsiTarget();
  server.addTarget({ iqn: extra, scsi: s2 });
  assert.throws(() => server.addTarget({ iqn: extra, scsi: s2 }), { code: 'TARGET_EXISTS' });
  const c = await RawInitiator.open(port);
  open.push(c);
  assert.equal((await c.login({ InitiatorName: INIT, TargetName: extra })).pdu.fields.statusClass, 0);
  await server.removeTarget(extra);
  assert.ok(await c.closedWithin(2000));
  assert.ok(s2.events.some((e) => e.startsWith('removed ')));
  const d = await RawInitiator.open(port);
  open.push(d);
  const r = await d.login({ InitiatorName: INIT, TargetName: extra });
  assert.deepEqual([r.pdu.fields.statusClass, r.pdu.fields.statusDetail], [2, 3]);
  assert.throws(() => server.updateTarget(extra, {}), { code: 'TARGET_NOT_FOUND' });
  await assert.rejects(server.removeTarget(extra), { code: 'TARGET_NOT_FOUND' });
});

test('updateTarget: a new ACL closes sessions it no longer allows and refuses the next login', async () => {
  const { c: existing } = await login('400001370a13');
  server.updateTarget(IQN, { allowedInitiators: ['iqn.someone.else'] });
  try {
    assert.ok(await existing.closedWithin(2000));
    const c = await RawInitiator.open(port);
    open.push(c);
    const r = await c.login({ InitiatorName: INIT, TargetName: IQN });
    assert.deepEqual([r.pdu.fields.statusClass, r.pdu.fields.statusDetail], [2, 2]);
  } finally {
    server.updateTarget(IQN, { allowedInitiators: undefined });
  }
});

test('a write larger than 64 MiB ends with a target failure, not an allocation', async () => {
  const { c } = await login('400001370a14');
  const itt = c.scsi(WRITE10(0, 0xffff), { write: true, edtl: 0xffffffff });
  const r = await c.next();
  assert.equal(r?.pdu.opcode, TargetOpcode.SCSI_RESPONSE);
  assert.equal(r?.pdu.fields.itt, itt);
  assert.equal(r?.pdu.fields.response, 1);
});

test('a login that trickles bytes is cut off at the login deadline', async () => {
  const k = await startServer([{ iqn: IQN }], { loginTimeoutMs: 300 });
  try {
    const c = await RawInitiator.open(k.port);
    open.push(c);
    const timer = setInterval(() => c.socket.write(Buffer.of(0x43)), 50);
    try {
      assert.ok(await c.closedWithin(2000));
    } finally {
      clearInterval(timer);
    }
  } finally {
    await k.server.close();
  }
});

test('keepalive NOP-In after idle; no answer drops the connection', async () => {
  const k = await startServer([{ iqn: IQN }], { nopInIntervalMs: 150 });
  try {
    const c = await RawInitiator.open(k.port);
    open.push(c);
    await c.login({ InitiatorName: INIT, TargetName: IQN });
    const nop = await c.next(1000);
    assert.equal(nop?.pdu.opcode, TargetOpcode.NOP_IN);
    assert.equal(nop?.pdu.fields.itt, 0xffffffff);
    assert.notEqual(nop?.pdu.fields.ttt, 0xffffffff);
    assert.ok(await c.closedWithin(1000));
  } finally {
    await k.server.close();
  }
});

test('after resets and aborts, qemu-io still writes and reads back on the same target', async () => {
  const r = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x42 0 256k', '-c', 'read -P 0x42 0 256k', `iscsi://127.0.0.1:${port}/${IQN}/0`]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /verification failed/);
});
