import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, nexus, type Harness } from '../scsi/testing.ts';
import { MediumError } from '../block/errors.ts';
import { Errno, FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FuseOp, OUT_HEADER_BYTES, UNIQUE_RESEND_BIT } from './fuse_codec.ts';
import { FuseFront, type FuseUnit } from './fuse_front.ts';
import { MAX_WRITE_SAME_BLOCKS } from '../scsi/logical_unit.ts';
import { fallocateBody, fuseMessage, readBody, writeBody } from './fuse_test_util.ts';

interface Kit {
  h: Harness;
  front: FuseFront;
  unit: FuseUnit;
  /** Sends one request and waits for its reply: [errno, body]. */
  ask(opcode: number, body: Buffer, nodeid?: bigint, resend?: boolean): Promise<[number, Buffer]>;
}

function kit(opts: { blockSize?: number; blockCount?: number; thin?: boolean; unbound?: boolean; unboundWaitMs?: number } = {}): Kit {
  const h = harness({ blockCount: opts.blockCount ?? 2048, blockSize: opts.blockSize ?? 512, thin: opts.thin ?? true });
  const waiting = new Map<bigint, (r: [number, Buffer]) => void>();
  const nx = nexus(7);
  h.target.nexusAdded(nx);
  const unit: FuseUnit = { target: h.target, lun: 0, geometry: () => ({ blockSize: h.device.blockSize, blockCount: h.device.blockCount, thin: h.device.thin }) };
  const front = new FuseFront({
    ...(opts.unbound === true ? {} : { unit }), nexus: nx, maxWrite: 128 * 1024,
    ...(opts.unboundWaitMs !== undefined ? { unboundWaitMs: opts.unboundWaitMs } : {}),
    send: (reply) => {
      assert.equal(reply.readUInt32LE(0), reply.length, 'a reply states its own length');
      const u = reply.readBigUInt64LE(8);
      waiting.get(u)?.([0 - reply.readInt32LE(4), Buffer.from(reply.subarray(OUT_HEADER_BYTES))]);
      waiting.delete(u);
    },
  });
  let unique = 100n;
  return {
    h, front, unit,
    ask(opcode, body, nodeid = 1n, resend = false) {
      const u = (unique++) | (resend ? UNIQUE_RESEND_BIT : 0n);
      const p = new Promise<[number, Buffer]>((resolve) => waiting.set(u, resolve));
      const [buf, n] = fuseMessage(opcode, u, body, nodeid);
      front.handle(buf, n);
      // The front copied what it keeps: scribbling over the read buffer must not matter.
      buf.fill(0xee);
      return p;
    },
  };
}

const pattern = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

test('a write reaches the logical unit and reads back, through the power-on unit attention', async () => {
  const k = kit();
  const data = pattern(8192, 1);
  const [we, wb] = await k.ask(FuseOp.WRITE, writeBody(4096, data));
  assert.equal(we, 0);
  assert.equal(wb.readUInt32LE(0), 8192);
  assert.deepEqual(await k.h.device.read(8, 16), data);
  const [re, rb] = await k.ask(FuseOp.READ, readBody(4096, 8192));
  assert.equal(re, 0);
  assert.deepEqual(rb, data);
});

test('writes and reads that do not start or end on a block are patched into the blocks around them', async () => {
  const k = kit({ blockSize: 4096 });
  await k.ask(FuseOp.WRITE, writeBody(0, pattern(16384, 3)));
  const [e] = await k.ask(FuseOp.WRITE, writeBody(1000, Buffer.from('hello, block')));
  assert.equal(e, 0);
  const expected = pattern(16384, 3);
  Buffer.from('hello, block').copy(expected, 1000);
  assert.deepEqual(await k.h.device.read(0, 4), expected);
  const [, rb] = await k.ask(FuseOp.READ, readBody(995, 20));
  assert.deepEqual(rb, expected.subarray(995, 1015));
});

test('a read is short at the end of the volume and empty past it; a write past the end is EFBIG', async () => {
  const k = kit({ blockCount: 16 });
  const [, short] = await k.ask(FuseOp.READ, readBody(7 * 1024, 4096));
  assert.equal(short.length, 1024);
  const [, none] = await k.ask(FuseOp.READ, readBody(8192, 4096));
  assert.equal(none.length, 0);
  const [e] = await k.ask(FuseOp.WRITE, writeBody(7680, Buffer.alloc(1024)));
  assert.equal(e, Errno.EFBIG);
});

test('fsync is a SYNCHRONIZE CACHE of the unit, and a failed flush is EIO', async () => {
  const k = kit();
  const before = k.h.device.stats.flushes;
  assert.equal((await k.ask(FuseOp.FSYNC, Buffer.alloc(16)))[0], 0);
  assert.equal(k.h.device.stats.flushes, before + 1);
  k.h.device.injectFault({ op: 'flush', error: new MediumError('disk said no') });
  assert.equal((await k.ask(FuseOp.FSYNC, Buffer.alloc(16)))[0], Errno.EIO);
});

test('punching a hole leaves zeros, including the partial blocks at its edges; an unknown mode is refused', async () => {
  const k = kit();
  await k.ask(FuseOp.WRITE, writeBody(0, pattern(8192, 9)));
  const [e] = await k.ask(FuseOp.FALLOCATE, fallocateBody(100, 4000, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE));
  assert.equal(e, 0);
  const after = await k.h.device.read(0, 16);
  const expected = pattern(8192, 9);
  expected.fill(0, 100, 4100);
  assert.deepEqual(after, expected);
  assert.equal((await k.ask(FuseOp.FALLOCATE, fallocateBody(0, 512, 0x40)))[0], Errno.EOPNOTSUPP);
});

test('a discard of the whole volume is cut to the unit\'s WRITE SAME limit, not refused (mkfs and blkdiscard send one)', async () => {
  const blocks = MAX_WRITE_SAME_BLOCKS * 2 + 10;
  for (const thin of [true, false]) {
    const k = kit({ blockCount: blocks, thin });
    const edges = [0, MAX_WRITE_SAME_BLOCKS, blocks - 1];
    for (const lba of edges) await k.ask(FuseOp.WRITE, writeBody(lba * 512, pattern(512, lba % 250)));
    const [e] = await k.ask(FuseOp.FALLOCATE, fallocateBody(0, blocks * 512, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE));
    assert.equal(e, 0, `thin=${thin}`);
    for (const lba of edges) assert.deepEqual(await k.h.device.read(lba, 1), Buffer.alloc(512), `block ${lba} (thin=${thin})`);
  }
});

test('a reservation held by another initiator refuses the write with EACCES', async () => {
  const k = kit();
  const other = nexus(2);
  await k.h.run([0x16, 0, 0, 0, 0, 0], { nexus: other }); // RESERVE(6)
  assert.equal((await k.ask(FuseOp.WRITE, writeBody(0, Buffer.alloc(512))))[0], Errno.EACCES);
});

test('size changes, owner changes, other nodes and unknown opcodes are refused; attributes give the size', async () => {
  const k = kit({ blockCount: 2048 });
  const [ae, attr] = await k.ask(FuseOp.GETATTR, Buffer.alloc(16));
  assert.equal(ae, 0);
  assert.equal(attr.readBigUInt64LE(16 + 8), 2048n * 512n);
  const sa = Buffer.alloc(88); sa.writeUInt32LE(8, 0); sa.writeBigUInt64LE(4096n, 16);
  assert.equal((await k.ask(FuseOp.SETATTR, sa))[0], Errno.EPERM);
  sa.writeBigUInt64LE(2048n * 512n, 16);
  assert.equal((await k.ask(FuseOp.SETATTR, sa))[0], 0, 'the same size is no change');
  assert.equal((await k.ask(FuseOp.READ, readBody(0, 512), 2n))[0], Errno.ENOENT);
  assert.equal((await k.ask(99, Buffer.alloc(8)))[0], Errno.ENOSYS);
  assert.equal((await k.ask(FuseOp.READ, Buffer.alloc(8)))[0], Errno.EIO, 'a body too short for its opcode');
  assert.equal(k.front.errors.get(Errno.EPERM), 1);
});

test('a request the front fails on (a bug, not bad input) is still answered with EIO before the error goes up', () => {
  const h = harness({ blockCount: 16 });
  const replies: Buffer[] = [];
  let broken = false;
  const geometry = () => {
    if (broken) throw new Error('geometry broke');
    return { blockSize: 512, blockCount: 16, thin: true };
  };
  const front = new FuseFront({ unit: { target: h.target, lun: 0, geometry }, nexus: nexus(8), maxWrite: 4096, send: (r) => replies.push(r) });
  broken = true;
  assert.throws(() => front.handle(...fuseMessage(FuseOp.GETATTR, 42n, Buffer.alloc(16))), /geometry broke/);
  assert.equal(replies.length, 1);
  assert.equal(replies[0].readBigUInt64LE(8), 42n);
  assert.equal(replies[0].readInt32LE(4), -Errno.EIO);
});

test('unbound (its export being replaced), requests wait for the next unit; with none in time they fail with EIO', async () => {
  const k = kit();
  await k.ask(FuseOp.WRITE, writeBody(0, pattern(512, 5)));
  k.front.unbind();
  const waiting = k.ask(FuseOp.READ, readBody(0, 512));
  const attr = await k.ask(FuseOp.GETATTR, Buffer.alloc(16));
  assert.equal(attr[1].readBigUInt64LE(16 + 8), 2048n * 512n, 'the last size is still shown');
  const next = harness({ blockCount: 4096 });
  await next.device.write(0, pattern(512, 6), false);
  const nx = nexus(7);
  next.target.nexusAdded(nx);
  k.front.rebind({ target: next.target, lun: 0, geometry: () => ({ blockSize: 512, blockCount: 4096, thin: true }) });
  const [e, data] = await waiting;
  assert.equal(e, 0);
  assert.deepEqual(data, pattern(512, 6), 'served by the new unit');

  const h = harness({ blockCount: 16 });
  const replies: Buffer[] = [];
  const front = new FuseFront({
    unit: { target: h.target, lun: 0, geometry: () => ({ blockSize: 512, blockCount: 16, thin: true }) },
    nexus: nexus(9), maxWrite: 4096, unboundWaitMs: 20, send: (r) => replies.push(r),
  });
  front.unbind();
  front.handle(...fuseMessage(FuseOp.FSYNC, 77n, Buffer.alloc(16)));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(replies.length, 1);
  assert.equal(replies[0].readInt32LE(4), -Errno.EIO);
});

test('a front taken over before its export is back holds every request, size included, until a unit is bound; resent ones are counted', async () => {
  const k = kit({ unbound: true });
  const answered: string[] = [];
  const data = pattern(4096, 9);
  const write = k.ask(FuseOp.WRITE, writeBody(8192, data), 1n, true).then((r) => { answered.push('write'); return r; });
  const attr = k.ask(FuseOp.GETATTR, Buffer.alloc(16)).then((r) => { answered.push('getattr'); return r; });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(answered, [], 'nothing is answered without a unit: a size of 0 would cut the kernel\'s reads short');
  assert.equal(k.front.resent, 1);
  k.front.rebind(k.unit);
  const [we] = await write;
  const [ae, ab] = await attr;
  assert.equal(we, 0);
  assert.equal(ae, 0);
  assert.equal(ab.readBigUInt64LE(16 + 8), BigInt(2048 * 512), 'the size is the unit\'s');
  assert.deepEqual(answered.sort(), ['getattr', 'write']);
  assert.deepEqual(await k.h.device.read(16, 8), data);
  assert.equal(k.front.inFlight, 0);
});

test('a taken-over front whose unit never comes fails its requests with EIO', async () => {
  const k = kit({ unbound: true, unboundWaitMs: 5 });
  const [e] = await k.ask(FuseOp.READ, readBody(0, 4096));
  assert.equal(e, Errno.EIO);
});
