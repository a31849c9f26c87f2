import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PduFramer, type RawPdu } from './framer.ts';
import { crc32c, crc32cUpdate } from '../util/crc32c.ts';
import { PduFramingError } from './errors.ts';

/** Builds one PDU on the wire: BHS (+AHS) (+header digest) + data + pad (+data digest). */
function wire(opts: { opcode: number; data?: Buffer; ahs?: Buffer; hd?: boolean; dd?: boolean; badHd?: boolean; badDd?: boolean; tag?: number }): Buffer {
  const data = opts.data ?? Buffer.alloc(0);
  const ahs = opts.ahs ?? Buffer.alloc(0);
  const bhs = Buffer.alloc(48);
  bhs[0] = opts.opcode;
  bhs[4] = ahs.length / 4;
  bhs.writeUIntBE(data.length, 5, 3);
  bhs.writeUInt32BE(opts.tag ?? 0, 16);
  const parts = [bhs, ahs];
  if (opts.hd) {
    const d = Buffer.alloc(4);
    d.writeUInt32LE((crc32cUpdate(crc32c(bhs), ahs) ^ (opts.badHd ? 1 : 0)) >>> 0);
    parts.push(d);
  }
  if (data.length > 0) {
    const padded = Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
    parts.push(padded);
    if (opts.dd) {
      const d = Buffer.alloc(4);
      d.writeUInt32LE((crc32c(padded) ^ (opts.badDd ? 1 : 0)) >>> 0);
      parts.push(d);
    }
  }
  return Buffer.concat(parts);
}

function stream(hd: boolean, dd: boolean): Buffer {
  return Buffer.concat([
    wire({ opcode: 0x01, tag: 1, hd, dd }),
    wire({ opcode: 0x01, tag: 2, data: Buffer.from('hello world'), hd, dd }),
    wire({ opcode: 0x05, tag: 3, data: Buffer.alloc(1000, 7), ahs: Buffer.alloc(8, 9), hd, dd }),
    wire({ opcode: 0x00, tag: 4, data: Buffer.from('abcd'), hd, dd }),
  ]);
}

function collect(framer: PduFramer, chunks: Buffer[]): RawPdu[] {
  const out: RawPdu[] = [];
  for (const c of chunks) framer.push(c, (p) => out.push({ ...p, bhs: Buffer.from(p.bhs), data: Buffer.from(p.data) }));
  return out;
}

function check(pdus: RawPdu[]): void {
  assert.deepEqual(pdus.map((p) => p.bhs.readUInt32BE(16)), [1, 2, 3, 4]);
  assert.equal(pdus[1].data.toString(), 'hello world');
  assert.deepEqual(pdus[2].data, Buffer.alloc(1000, 7));
  assert.deepEqual(pdus[2].ahs, Buffer.alloc(8, 9));
  assert.equal(pdus[0].ahs, undefined);
  assert.ok(pdus.every((p) => p.dataDigestOk));
}

for (const [hd, dd] of [[false, false], [true, false], [false, true], [true, true]]) {
  test(`framer yields the same PDUs for the stream split at every offset (digests h=${hd} d=${dd})`, () => {
    const s = stream(hd, dd);
    const settings = { maxDataSegmentLength: 8192, headerDigest: hd, dataDigest: dd };
    check(collect(new PduFramer(settings), [s]));
    for (let cut = 0; cut <= s.length; cut++) {
      const f = new PduFramer(settings);
      check(collect(f, [s.subarray(0, cut), s.subarray(cut)]));
      assert.ok(f.atBoundary());
    }
    // and byte by byte
    check(collect(new PduFramer(settings), Array.from(s, (b) => Buffer.of(b))));
  });
}

test('framer places Data-Out data where the placement callback says, at every split', () => {
  const s = stream(false, true);
  for (let cut = 0; cut <= s.length; cut += 7) {
    const dest = Buffer.alloc(1000);
    const f = new PduFramer({ maxDataSegmentLength: 8192, headerDigest: false, dataDigest: true }, (bhs, len) => (bhs[0] === 0x05 ? dest.subarray(0, len) : undefined));
    const out: RawPdu[] = [];
    f.push(s.subarray(0, cut), (p) => out.push(p));
    f.push(s.subarray(cut), (p) => out.push(p));
    assert.equal(out.length, 4);
    assert.deepEqual(dest, Buffer.alloc(1000, 7));
    assert.equal(out[2].data.buffer, dest.buffer);
    assert.ok(out.every((p) => p.dataDigestOk));
  }
});

test('a data segment longer than MaxRecvDataSegmentLength fails as soon as the BHS is read', () => {
  const f = new PduFramer({ maxDataSegmentLength: 512, headerDigest: false, dataDigest: false });
  const bhs = wire({ opcode: 1, data: Buffer.alloc(513) }).subarray(0, 48);
  assert.throws(() => f.push(bhs, () => {}), (e: unknown) => e instanceof PduFramingError && e.code === 'PDU_TOO_LONG');
});

test('a lying 16 MiB length is refused without allocating it', () => {
  const f = new PduFramer({ maxDataSegmentLength: 262144, headerDigest: false, dataDigest: false });
  const bhs = Buffer.alloc(48);
  bhs[0] = 1;
  bhs.writeUIntBE(0xffffff, 5, 3);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => f.push(bhs, () => {}), PduFramingError);
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
});

test('a wrong header digest is a framing error; a wrong data digest is reported on the PDU', () => {
  const f = new PduFramer({ maxDataSegmentLength: 8192, headerDigest: true, dataDigest: true });
  assert.throws(() => f.push(wire({ opcode: 1, hd: true, badHd: true }), () => {}), (e: unknown) => e instanceof PduFramingError && e.code === 'HEADER_DIGEST');
  const g = new PduFramer({ maxDataSegmentLength: 8192, headerDigest: true, dataDigest: true });
  const out = collect(g, [wire({ opcode: 1, data: Buffer.from('xyz'), hd: true, dd: true, badDd: true })]);
  assert.equal(out.length, 1);
  assert.equal(out[0].dataDigestOk, false);
});

test('EOF mid-PDU is told apart from a clean EOF', () => {
  const s = stream(false, false);
  const f = new PduFramer({ maxDataSegmentLength: 8192, headerDigest: false, dataDigest: false });
  f.push(s.subarray(0, 60), () => {});
  assert.equal(f.atBoundary(), false);
  f.push(s.subarray(60), () => {});
  assert.equal(f.atBoundary(), true);
});

test('stop() ends delivery within the chunk being pushed', () => {
  const f = new PduFramer({ maxDataSegmentLength: 8192, headerDigest: false, dataDigest: false });
  let n = 0;
  f.push(stream(false, false), () => {
    n++;
    f.stop();
  });
  assert.equal(n, 1);
});
