import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { CorkRelease, ReplicaCork } from './replica_cork.ts';
import { ReplicaFramer } from './replica_framer.ts';
import { REPLY_BIT, ReplicaOp, ReplicaStatus, type FrameHeader } from './replica_protocol.ts';

/** Records what reaches the "socket" and whether it was corked at the time. */
function fakeSocket(): { socket: Socket; writes: Buffer[]; corked: () => number } {
  const writes: Buffer[] = [];
  let corked = 0;
  const socket = {
    writable: true,
    cork: () => { corked++; },
    uncork: () => { corked--; },
    write: (b: Buffer) => { writes.push(Buffer.from(b)); return true; },
  } as unknown as Socket;
  return { socket, writes, corked: () => corked };
}

function frames(writes: Buffer[]): FrameHeader[] {
  const out: FrameHeader[] = [];
  const framer = new ReplicaFramer((h) => out.push(h));
  for (const w of writes) framer.push(w);
  framer.end();
  return out;
}

test('acks queued in one turn leave as one write, in order, and decode as replies', async () => {
  const { socket, writes, corked } = fakeSocket();
  const cork = new ReplicaCork(socket, CorkRelease.IMMEDIATE);
  for (let id = 1; id <= 5; id++) cork.header(ReplicaOp.WRITE | REPLY_BIT, 0, id, 0, 0, ReplicaStatus.OK);
  await new Promise((r) => process.nextTick(r));
  assert.equal(writes.length, 0, 'an immediate cork still holds after the tick');
  assert.equal(corked(), 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1);
  assert.equal(corked(), 0);
  assert.deepEqual(frames(writes).map((h) => [h.op, h.requestId, h.status, h.payloadLength]), [1, 2, 3, 4, 5].map((id) => [ReplicaOp.WRITE | REPLY_BIT, id, 0, 0]));
});

test('a batch larger than a slab is split, and earlier batches are never overwritten', async () => {
  const { socket, writes } = fakeSocket();
  const cork = new ReplicaCork(socket, CorkRelease.TICK);
  const sent: Buffer[] = [];
  const realWrite = socket.write.bind(socket);
  (socket as unknown as { write: (b: Buffer) => boolean }).write = (b: Buffer) => { sent.push(b); return realWrite(b); };
  for (let id = 1; id <= 100; id++) cork.header(ReplicaOp.WRITE | REPLY_BIT, 0, id, 0, 0, ReplicaStatus.OK);
  await new Promise((r) => process.nextTick(r));
  for (let id = 101; id <= 110; id++) cork.header(ReplicaOp.WRITE | REPLY_BIT, 0, id, 0, 0, ReplicaStatus.OK);
  await new Promise((r) => process.nextTick(r));
  assert.ok(writes.length >= 3, `writes: ${writes.length}`);
  const ids = (bufs: Buffer[]): number[] => frames(bufs).map((h) => h.requestId);
  const expected = Array.from({ length: 110 }, (_, i) => i + 1);
  assert.deepEqual(ids(writes), expected);
  // What the socket was handed (not copies) still holds the same frames afterwards.
  assert.deepEqual(ids(sent), expected);
});
