import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicaPayloadPool, REPLICA_PAYLOAD_POOL_MAX_BUFFERS, REPLICA_PAYLOAD_POOL_MIN_BYTES } from './replica_payload_pool.ts';
import { ReplicaFramer } from './replica_framer.ts';
import { encodeRequest } from './replica_codec.ts';
import { ReplicaOp } from './replica_protocol.ts';

const MiB = 1024 * 1024;

test('large payloads are reused after give, by exact length; foreign and small buffers never are', () => {
  const pool = new ReplicaPayloadPool();
  const a = pool.take(MiB);
  pool.give(a);
  assert.equal(pool.take(2 * MiB) === a, false, 'another length gets its own buffer');
  assert.equal(pool.take(MiB), a, 'the same length reuses the given-back buffer');
  assert.notEqual(pool.take(MiB), a, 'a buffer in use is not handed out twice');
  const foreign = Buffer.allocUnsafe(MiB);
  pool.give(foreign);
  assert.notEqual(pool.take(MiB), foreign);
  const small = pool.take(REPLICA_PAYLOAD_POOL_MIN_BYTES - 1);
  pool.give(small);
  assert.notEqual(pool.take(REPLICA_PAYLOAD_POOL_MIN_BYTES - 1), small);
});

test('the pool keeps a bounded number of buffers', () => {
  const pool = new ReplicaPayloadPool();
  const bufs = Array.from({ length: REPLICA_PAYLOAD_POOL_MAX_BUFFERS + 4 }, () => pool.take(MiB));
  for (const b of bufs) pool.give(b);
  const again = new Set(Array.from({ length: REPLICA_PAYLOAD_POOL_MAX_BUFFERS + 4 }, () => pool.take(MiB)));
  const reused = bufs.filter((b) => again.has(b)).length;
  assert.equal(reused, REPLICA_PAYLOAD_POOL_MAX_BUFFERS);
});

test('the framer assembles a payload spanning chunks into the supplied buffer, byte for byte', () => {
  const pool = new ReplicaPayloadPool();
  const data = Buffer.alloc(MiB, 0x5a);
  data.writeUInt32BE(0xdeadbeef, MiB - 4);
  const [header, payload] = encodeRequest({ op: ReplicaOp.WRITE, id: 7, lba: 0, count: MiB / 512, fua: false, data });
  const wire = Buffer.concat([header, payload ?? Buffer.alloc(0)]);
  const got: Buffer[] = [];
  const framer = new ReplicaFramer((_h, p) => got.push(p), undefined, (len) => pool.take(len));
  for (let at = 0; at < wire.length; at += 65536) framer.push(wire.subarray(at, at + 65536));
  assert.equal(got.length, 1);
  assert.ok(got[0].equals(data));
  pool.give(got[0]);
  assert.equal(pool.take(MiB), got[0], 'the assembled payload came from the pool');
});
