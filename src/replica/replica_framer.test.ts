import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplicaFramer } from './replica_framer.ts';
import { decodeRequest, encodeErrorReply, encodeReply, encodeRequest, type ReplicaRequest } from './replica_codec.ts';
import { REPLICA_HEADER_LENGTH, REPLICA_PROTOCOL_VERSION, ReplicaOp, ReplicaStatus, type FrameHeader } from './replica_protocol.ts';
import { BerthError } from '../util/errors.ts';

function collect(maxPayload?: number): { framer: ReplicaFramer; frames: Array<{ h: FrameHeader; p: Buffer }> } {
  const frames: Array<{ h: FrameHeader; p: Buffer }> = [];
  // Payloads may be views of the chunk: copy so later pushes cannot alias them.
  const framer = new ReplicaFramer((h, p) => frames.push({ h, p: Buffer.from(p) }), maxPayload);
  return { framer, frames };
}

const samples: ReplicaRequest[] = [
  { op: ReplicaOp.HELLO, id: 1, version: REPLICA_PROTOCOL_VERSION, generation: 2 ** 40 + 7, volume: 'pvc-1234', proof: Buffer.alloc(32, 0x5a) },
  { op: ReplicaOp.AUTH, id: 9, clientNonce: Buffer.alloc(32, 0x17) },
  { op: ReplicaOp.FENCE, id: 2, generation: 9 },
  { op: ReplicaOp.PING, id: 3 },
  { op: ReplicaOp.WRITE, id: 4, lba: 2 ** 33 + 5, count: 2, fua: true, data: Buffer.alloc(1024, 0xab) },
  { op: ReplicaOp.READ, id: 0xffffffff, lba: 0, count: 8 },
  { op: ReplicaOp.FLUSH, id: 6 },
  { op: ReplicaOp.UNMAP, id: 7, lba: 100, count: 4096 },
  { op: ReplicaOp.MAP_STATUS, id: 8, lba: 12, count: 1 },
];

function streamOf(reqs: ReplicaRequest[]): Buffer {
  return Buffer.concat(reqs.flatMap((r) => encodeRequest(r)));
}

test('every request type survives encode → frame → decode', () => {
  const { framer, frames } = collect();
  framer.push(streamOf(samples));
  framer.end();
  assert.deepEqual(frames.map((f) => decodeRequest(f.h, f.p)), samples);
});

test('a stream split at every offset yields the same frames', () => {
  const stream = streamOf(samples);
  for (let cut = 0; cut <= stream.length; cut++) {
    const { framer, frames } = collect();
    framer.push(stream.subarray(0, cut));
    framer.push(stream.subarray(cut));
    framer.end();
    assert.deepEqual(frames.map((f) => decodeRequest(f.h, f.p)), samples, `cut at ${cut}`);
  }
});

test('a stream fed one byte at a time yields the same frames', () => {
  const stream = streamOf(samples);
  const { framer, frames } = collect();
  for (let i = 0; i < stream.length; i++) framer.push(stream.subarray(i, i + 1));
  framer.end();
  assert.equal(frames.length, samples.length);
});

test('replies carry status, detail and message', () => {
  const { framer, frames } = collect();
  framer.push(Buffer.concat([
    encodeReply(ReplicaOp.READ, 5, 0, 0, 0, 0),
    ...encodeErrorReply(ReplicaOp.WRITE, 6, ReplicaStatus.STALE_GENERATION, 'fenced', 12),
  ]));
  assert.equal(frames[0].h.op, ReplicaOp.READ | 0x80);
  assert.equal(frames[1].h.status, ReplicaStatus.STALE_GENERATION);
  assert.equal(frames[1].h.arg64, 12);
  assert.equal(frames[1].p.toString(), 'fenced');
});

test('clean EOF between frames, error on EOF mid-frame', () => {
  const stream = streamOf(samples.slice(0, 4));
  for (let cut = 1; cut < stream.length; cut++) {
    const { framer, frames } = collect();
    framer.push(stream.subarray(0, cut));
    const boundary = framer.midFrame === false;
    if (boundary) {
      framer.end();
      assert.ok(frames.length > 0);
    } else {
      assert.throws(() => framer.end(), { code: 'REPLICA_TRUNCATED_FRAME' });
    }
  }
});

test('bad magic is refused on its first wrong byte', () => {
  const { framer } = collect();
  assert.throws(() => framer.push(Buffer.from('G')), { code: 'REPLICA_PROTOCOL_ERROR' });
  assert.throws(() => framer.push(Buffer.from('x')), { code: 'REPLICA_PROTOCOL_ERROR' }, 'stays failed');
});

test('another version is reported as soon as its version byte arrives', () => {
  const frame = encodeRequest({ op: ReplicaOp.PING, id: 1 })[0];
  frame[4] = 1; // a version-1 engine, which cannot authenticate
  const { framer } = collect();
  framer.push(frame.subarray(0, 4));
  assert.throws(() => framer.push(frame.subarray(4, 5)), (err: unknown) => {
    assert.ok(err instanceof BerthError);
    assert.equal(err.code, 'REPLICA_VERSION_MISMATCH');
    assert.match(err.message, /version 1, this side speaks 2/);
    return true;
  });
});

test('an oversized length is refused when the header completes, before the payload', () => {
  const [header] = encodeRequest({ op: ReplicaOp.WRITE, id: 1, lba: 0, count: 1, fua: false, data: Buffer.alloc(4096) });
  const { framer } = collect(1024);
  assert.throws(() => framer.push(header), { code: 'REPLICA_FRAME_TOO_LARGE' });
});

test('decodeRequest refuses malformed bodies with a protocol error', () => {
  const { framer, frames } = collect();
  framer.push(encodeRequest({ op: ReplicaOp.PING, id: 1 })[0]);
  const h = frames[0].h;
  assert.throws(() => decodeRequest({ ...h, op: 0x55 }, Buffer.alloc(0)), { code: 'REPLICA_PROTOCOL_ERROR' });
  assert.throws(() => decodeRequest(h, Buffer.alloc(3)), { code: 'REPLICA_PROTOCOL_ERROR' });
  assert.throws(() => decodeRequest({ ...h, op: ReplicaOp.HELLO }, Buffer.alloc(0)), { code: 'REPLICA_PROTOCOL_ERROR' });
  assert.throws(() => decodeRequest({ ...h, op: ReplicaOp.HELLO }, Buffer.alloc(32)), { code: 'REPLICA_PROTOCOL_ERROR' }, 'a proof and no name');
  assert.throws(() => decodeRequest({ ...h, op: ReplicaOp.AUTH }, Buffer.alloc(31)), { code: 'REPLICA_PROTOCOL_ERROR' });
  assert.throws(() => decodeRequest({ ...h, op: ReplicaOp.AUTH }, Buffer.alloc(33)), { code: 'REPLICA_PROTOCOL_ERROR' });
  assert.throws(() => decodeRequest({ ...h, op: ReplicaOp.WRITE }, Buffer.alloc(0)), { code: 'REPLICA_PROTOCOL_ERROR' });
});

const requestArb: fc.Arbitrary<ReplicaRequest> = fc.oneof(
  fc.record({ op: fc.constant(ReplicaOp.READ), id: fc.nat(0xffffffff), lba: fc.nat(Number.MAX_SAFE_INTEGER), count: fc.nat(0xffffffff) }),
  fc.record({
    op: fc.constant(ReplicaOp.WRITE), id: fc.nat(0xffffffff), lba: fc.nat(2 ** 40), count: fc.integer({ min: 1, max: 8 }),
    fua: fc.boolean(), data: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
  }),
  fc.record({ op: fc.constant(ReplicaOp.FENCE), id: fc.nat(0xffffffff), generation: fc.nat(Number.MAX_SAFE_INTEGER) }),
  fc.record({
    op: fc.constant(ReplicaOp.HELLO), id: fc.nat(0xffffffff), version: fc.nat(255), generation: fc.nat(2 ** 50),
    volume: fc.stringMatching(/^[a-z0-9-]{1,40}$/), proof: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
  }),
  fc.record({ op: fc.constant(ReplicaOp.AUTH), id: fc.nat(0xffffffff), clientNonce: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)) }),
  fc.record({ op: fc.constant(ReplicaOp.FLUSH), id: fc.nat(0xffffffff) }),
);

test('fuzz: any frames cut into any chunks decode to themselves', () => {
  fc.assert(fc.property(fc.array(requestArb, { maxLength: 12 }), fc.array(fc.nat(400), { maxLength: 10 }), (reqs, cuts) => {
    const stream = streamOf(reqs);
    const { framer, frames } = collect();
    let at = 0;
    for (const c of cuts) {
      const to = Math.min(stream.length, at + c);
      framer.push(stream.subarray(at, to));
      at = to;
    }
    framer.push(stream.subarray(at));
    framer.end();
    assert.deepEqual(frames.map((f) => decodeRequest(f.h, f.p)), reqs.map((r) => ({ ...r })));
  }), { numRuns: 300 });
});

test('fuzz: garbage only ever raises Berth errors, never crashes', () => {
  const valid = streamOf(samples);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(valid.length), (junk, splice) => {
    // Valid prefix, then junk: exercises every framer state with hostile bytes.
    const stream = Buffer.concat([valid.subarray(0, splice), junk]);
    const framer = new ReplicaFramer((h, p) => {
      try { decodeRequest(h, p); } catch (err) { assert.ok(err instanceof BerthError); }
    }, 4096);
    try {
      framer.push(stream);
      framer.end();
    } catch (err) {
      assert.ok(err instanceof BerthError, String(err));
    }
  }), { numRuns: 500 });
});

test('the header is 32 bytes', () => {
  assert.equal(encodeRequest({ op: ReplicaOp.PING, id: 1 })[0].length, REPLICA_HEADER_LENGTH);
});
