import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplicaAuthKeys, decodeAuthReply, encodeAuthReply, REPLICA_AUTH_PROOF_BYTES } from './replica_auth.ts';
import { decodeRequest, encodeRequest } from './replica_codec.ts';
import { ReplicaFramer } from './replica_framer.ts';
import { REPLICA_PROTOCOL_VERSION, ReplicaOp, ReplicaStatus } from './replica_protocol.ts';
import { errorForStatus, statusForError } from './replica_errors.ts';
import type { FrameHeader } from './replica_protocol.ts';

const TOKEN = 'a'.repeat(43);
const OTHER = 'b'.repeat(43);
const cn = Buffer.alloc(32, 1);
const sn = Buffer.alloc(32, 2);

test('replica_auth: holders of the same token accept each other, in both directions', () => {
  const server = new ReplicaAuthKeys([TOKEN]);
  const client = new ReplicaAuthKeys([TOKEN]);
  assert.ok(client.acceptsServer(cn, sn, server.serverProof(cn, sn)));
  assert.ok(server.acceptsClient(cn, sn, client.clientProof(cn, sn)));
  assert.equal(server.serverProof(cn, sn).length, REPLICA_AUTH_PROOF_BYTES);
});

test('replica_auth: a stranger\'s proof, a replayed proof and a reflected proof are refused', () => {
  const server = new ReplicaAuthKeys([TOKEN]);
  const stranger = new ReplicaAuthKeys([OTHER]);
  assert.ok(!server.acceptsClient(cn, sn, stranger.clientProof(cn, sn)), 'another token');
  assert.ok(!stranger.acceptsServer(cn, sn, server.serverProof(cn, sn)), 'a server with another token');
  // A proof recorded on one connection does not open another (the server's nonce is fresh).
  const recorded = new ReplicaAuthKeys([TOKEN]).clientProof(cn, sn);
  assert.ok(!server.acceptsClient(cn, Buffer.alloc(32, 3), recorded));
  // The server's own proof sent back as a client proof (reflection) is refused: other label.
  assert.ok(!server.acceptsClient(cn, sn, server.serverProof(cn, sn)));
  assert.ok(!server.acceptsClient(cn, sn, Buffer.alloc(32)), 'the all-zero proof of a tokenless client');
  assert.ok(!server.acceptsClient(cn, sn, Buffer.alloc(31)), 'a short proof');
});

test('replica_auth: during rotation either token is accepted; the first is the one proven with', () => {
  const rotating = new ReplicaAuthKeys([OTHER, TOKEN]);
  const old = new ReplicaAuthKeys([TOKEN]);
  assert.ok(rotating.acceptsClient(cn, sn, old.clientProof(cn, sn)));
  assert.ok(old.acceptsServer(cn, sn, new ReplicaAuthKeys([TOKEN, OTHER]).serverProof(cn, sn)));
  assert.ok(!old.acceptsServer(cn, sn, rotating.serverProof(cn, sn)), 'the new token alone is unknown to an engine that lacks it');
});

test('replica_auth: the keys never serialize their tokens', () => {
  const keys = new ReplicaAuthKeys([TOKEN]);
  assert.doesNotMatch(JSON.stringify({ keys }), /aaaa/);
  assert.throws(() => new ReplicaAuthKeys([]), { code: 'REPLICA_UNAUTHENTICATED' });
});

test('replica_auth codec: AUTH and HELLO with a proof round-trip through the framer; bad sizes are refused', () => {
  const frames: Array<{ h: FrameHeader; p: Buffer }> = [];
  const framer = new ReplicaFramer((h, p) => frames.push({ h, p: Buffer.from(p) }));
  const proof = Buffer.alloc(32, 9);
  for (const part of encodeRequest({ op: ReplicaOp.AUTH, id: 5, clientNonce: cn })) framer.push(part);
  for (const part of encodeRequest({ op: ReplicaOp.HELLO, id: 6, version: REPLICA_PROTOCOL_VERSION, generation: 4, volume: 'p/v', proof })) framer.push(part);
  assert.equal(frames[0].h.version, 2);
  assert.deepEqual(decodeRequest(frames[0].h, frames[0].p), { op: ReplicaOp.AUTH, id: 5, clientNonce: cn });
  assert.deepEqual(decodeRequest(frames[1].h, frames[1].p), { op: ReplicaOp.HELLO, id: 6, version: 2, generation: 4, volume: 'p/v', proof });
  const reply = encodeAuthReply(sn, proof);
  assert.deepEqual(decodeAuthReply(reply), { serverNonce: sn, serverProof: proof });
  assert.throws(() => decodeAuthReply(reply.subarray(1)), { code: 'REPLICA_UNAUTHENTICATED' });
});

test('replica_auth: UNAUTHENTICATED has its own status both ways', () => {
  const err = errorForStatus(ReplicaStatus.UNAUTHENTICATED, 'no', 0);
  assert.equal((err as Error & { code: string }).code, 'REPLICA_UNAUTHENTICATED');
  assert.equal(statusForError(err), ReplicaStatus.UNAUTHENTICATED);
});

test('replica_auth fuzz: only the matching token and nonces verify', () => {
  const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a));
  const token = fc.stringMatching(/^[A-Za-z0-9]{43,60}$/);
  fc.assert(fc.property(token, token, bytes32, bytes32, (t1, t2, c, s) => {
    const a = new ReplicaAuthKeys([t1]);
    const b = new ReplicaAuthKeys([t2]);
    assert.equal(a.acceptsClient(c, s, b.clientProof(c, s)), t1 === t2);
    assert.equal(a.acceptsServer(c, s, b.serverProof(c, s)), t1 === t2);
  }), { numRuns: 200 });
});
