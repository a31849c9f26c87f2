import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Errno, FuseOp, FuseProtocolError, initReply, InitFlag, IN_HEADER_BYTES, NOTIFY_RESEND, notifyResend, OUT_HEADER_BYTES, parseRequest, attrReply,
} from './fuse_codec.ts';
import { fuseMessage } from './fuse_test_util.ts';

test('INIT, READ, WRITE, FSYNC, SETATTR and FALLOCATE bodies are read at their fields', () => {
  const init = Buffer.alloc(64);
  init.writeUInt32LE(7, 0); init.writeUInt32LE(41, 4); init.writeUInt32LE(65536, 8); init.writeUInt32LE(0xffffffff, 12);
  const r = parseRequest(...fuseMessage(FuseOp.INIT, 5n, init));
  assert.deepEqual(r.op === 'init' && [r.h.unique, r.major, r.minor, r.maxReadahead, r.flags], [5n, 7, 41, 65536, 0xffffffff]);

  const rd = Buffer.alloc(40); rd.writeBigUInt64LE(4096n, 8); rd.writeUInt32LE(8192, 16);
  const read = parseRequest(...fuseMessage(FuseOp.READ, 6n, rd));
  assert.deepEqual(read.op === 'read' && [read.offset, read.size], [4096, 8192]);

  const wr = Buffer.alloc(40 + 3); wr.writeBigUInt64LE(512n, 8); wr.writeUInt32LE(3, 16); wr.write('abc', 40);
  const write = parseRequest(...fuseMessage(FuseOp.WRITE, 7n, wr));
  assert.equal(write.op, 'write');
  assert.deepEqual(write.op === 'write' && [write.offset, write.data.toString()], [512, 'abc']);

  const fs = Buffer.alloc(16); fs.writeUInt32LE(1, 8);
  const fsync = parseRequest(...fuseMessage(FuseOp.FSYNC, 8n, fs));
  assert.deepEqual(fsync.op === 'fsync' && fsync.datasync, true);

  const sa = Buffer.alloc(88); sa.writeUInt32LE(8, 0); sa.writeBigUInt64LE(1234n, 16);
  const setattr = parseRequest(...fuseMessage(FuseOp.SETATTR, 9n, sa));
  assert.deepEqual(setattr.op === 'setattr' && [setattr.valid, setattr.size], [8, 1234]);

  const fa = Buffer.alloc(32); fa.writeBigUInt64LE(4096n, 8); fa.writeBigUInt64LE(8192n, 16); fa.writeUInt32LE(3, 24);
  const fall = parseRequest(...fuseMessage(FuseOp.FALLOCATE, 10n, fa));
  assert.deepEqual(fall.op === 'fallocate' && [fall.offset, fall.length, fall.mode], [4096, 8192, 3]);

  assert.equal(parseRequest(...fuseMessage(FuseOp.FORGET, 11n, Buffer.alloc(8))).op, 'noreply');
  assert.equal(parseRequest(...fuseMessage(FuseOp.INTERRUPT, 12n, Buffer.alloc(8))).op, 'noreply');
  assert.equal(parseRequest(...fuseMessage(FuseOp.GETATTR, 13n, Buffer.alloc(16))).op, 'other');
});

test('a short message, a length that disagrees with the read, a short body or an offset past 2^53 is a protocol error', () => {
  assert.throws(() => parseRequest(Buffer.alloc(20), 20), FuseProtocolError);
  const [buf, n] = fuseMessage(FuseOp.READ, 1n, Buffer.alloc(40));
  assert.throws(() => parseRequest(buf, n - 8), FuseProtocolError);
  assert.throws(() => parseRequest(...fuseMessage(FuseOp.READ, 1n, Buffer.alloc(10))), FuseProtocolError);
  const wr = Buffer.alloc(40); wr.writeUInt32LE(100, 16); // says 100 bytes of data, carries none
  assert.throws(() => parseRequest(...fuseMessage(FuseOp.WRITE, 1n, wr)), FuseProtocolError);
  const far = Buffer.alloc(40); far.writeBigUInt64LE(2n ** 60n, 8);
  assert.throws(() => parseRequest(...fuseMessage(FuseOp.READ, 1n, far)), /past 2\^53/);
});

test('the INIT reply keeps only the flags both sides have, and refuses another major or a kernel before 7.28', () => {
  const ask = (major: number, minor: number, flags: number) => {
    const b = Buffer.alloc(64); b.writeUInt32LE(major, 0); b.writeUInt32LE(minor, 4); b.writeUInt32LE(1 << 20, 8); b.writeUInt32LE(flags, 12);
    const r = parseRequest(...fuseMessage(FuseOp.INIT, 3n, b));
    if (r.op !== 'init') throw new Error('not init');
    return initReply(r, { maxWrite: 128 * 1024, maxReadahead: 128 * 1024 });
  };
  const ok = ask(7, 41, InitFlag.ASYNC_READ | InitFlag.MAX_PAGES | (1 << 16));
  assert.equal(ok.readUInt32LE(0), OUT_HEADER_BYTES + 64);
  assert.equal(ok.readInt32LE(4), 0);
  assert.equal(ok.readBigUInt64LE(8), 3n);
  const body = ok.subarray(OUT_HEADER_BYTES);
  assert.deepEqual([body.readUInt32LE(0), body.readUInt32LE(4), body.readUInt32LE(8)], [7, 31, 128 * 1024]);
  // Writeback caching (1 << 16) is offered by the kernel and not taken: every write reaches the LU.
  assert.equal(body.readUInt32LE(12), InitFlag.ASYNC_READ | InitFlag.MAX_PAGES);
  assert.deepEqual([body.readUInt32LE(20), body.readUInt16LE(28)], [128 * 1024, 32]);
  assert.equal(ask(7, 29, 0).subarray(OUT_HEADER_BYTES).readUInt32LE(4), 29);
  assert.equal(ask(8, 0, 0).readInt32LE(4), -Errno.EPROTO);
  assert.equal(ask(7, 27, 0).readInt32LE(4), -Errno.EPROTO);
});

test('the attribute reply describes one regular file of the volume size', () => {
  const r = attrReply(9n, { size: 3 * 2 ** 30, mode: 0o600, blockSize: 512, validSeconds: 1 });
  const a = r.subarray(OUT_HEADER_BYTES + 16);
  assert.equal(r.readUInt32LE(0), OUT_HEADER_BYTES + 104);
  assert.equal(a.readBigUInt64LE(8), BigInt(3 * 2 ** 30));
  assert.equal(a.readUInt32LE(60), 0o100600);
  assert.equal(a.readUInt32LE(80), 512);
});

test('the resend notification is a bare header: its own length, the notify code where an error goes, unique 0', () => {
  const n = notifyResend();
  assert.equal(n.length, OUT_HEADER_BYTES);
  assert.equal(n.readUInt32LE(0), OUT_HEADER_BYTES);
  assert.equal(n.readInt32LE(4), NOTIFY_RESEND);
  assert.equal(n.readBigUInt64LE(8), 0n);
});

test('fuzz: any bytes parse to a request or a FuseProtocolError, never anything else', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 60 }), fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.boolean(),
    (opcode, body, honestLength) => {
      const [buf, n] = fuseMessage(opcode, 1n, Buffer.from(body));
      if (!honestLength) buf.writeUInt32LE(buf.readUInt32LE(0) ^ 0x10, 0);
      try {
        const r = parseRequest(buf, n);
        assert.ok(r.h.len >= IN_HEADER_BYTES);
      } catch (err) {
        assert.ok(err instanceof FuseProtocolError, String(err));
      }
    }), { numRuns: 2000 });
});
