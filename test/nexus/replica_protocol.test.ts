import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ReplicaServer } from '../../src/replica/replica_server.ts';
import { RemoteReplica } from '../../src/replica/remote_replica.ts';
import { MemoryGenerationStore } from '../../src/replica/replica_generations.ts';
import { ReplicaFramer } from '../../src/replica/replica_framer.ts';
import { encodeHeader, encodeRequest } from '../../src/replica/replica_codec.ts';
import { REPLICA_PROTOCOL_VERSION, ReplicaOp, ReplicaStatus } from '../../src/replica/replica_protocol.ts';
import { TestDevice, pattern } from '../../src/nexus/nexus_test_devices.ts';

const cleanups: Array<() => unknown> = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function serve(devs: Record<string, TestDevice>, store = new MemoryGenerationStore()): Promise<{ server: ReplicaServer; port: number; store: MemoryGenerationStore }> {
  const server = new ReplicaServer({ resolve: (v) => devs[v], generations: store });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close());
  return { server, port, store };
}

async function connect(port: number, volume: string, generation: number, opTimeoutMs = 2000): Promise<RemoteReplica> {
  const r = await RemoteReplica.connect({ host: '127.0.0.1', port, volume, generation, opTimeoutMs });
  cleanups.push(() => r.close());
  return r;
}

/** Sends raw bytes, collects every frame until the server closes. */
function rawExchange(port: number, bytes: Buffer): Promise<Array<{ status: number; arg64: number; message: string }>> {
  return new Promise((resolve, reject) => {
    const frames: Array<{ status: number; arg64: number; message: string }> = [];
    const framer = new ReplicaFramer((h, p) => frames.push({ status: h.status, arg64: h.arg64, message: p.toString() }));
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(bytes));
    s.on('data', (c) => framer.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(frames));
    setTimeout(() => s.destroy(), 2000).unref();
  });
}

test('replica_io: every op round-trips over TCP, pipelined, answered out of order', async () => {
  const dev = new TestDevice(4096);
  dev.latency = () => Math.floor(Math.random() * 4);
  const { port } = await serve({ vol: dev });
  const r = await connect(port, 'vol', 1);
  assert.equal(r.blockSize, 512);
  assert.equal(r.blockCount, 4096);
  assert.equal(r.thin, true);
  await Promise.all(Array.from({ length: 64 }, (_, i) => r.write(i * 8, pattern(i * 8, 8, 512, i), i % 2 === 0)));
  const reads = await Promise.all(Array.from({ length: 64 }, (_, i) => r.read(i * 8, 8)));
  reads.forEach((b, i) => assert.ok(b.equals(pattern(i * 8, 8, 512, i)), `read ${i}`));
  await r.unmap(0, 8);
  assert.deepEqual(await r.mapStatus(0, 100), { mapped: false, count: 8 });
  assert.deepEqual(await r.mapStatus(8, 1000), { mapped: true, count: 504 });
  await r.flush();
  await r.ping();
  assert.ok((await r.read(0, 8)).equals(Buffer.alloc(4096)));
});

test('replica_large_io: I/Os above the frame limit are split and reassembled', async () => {
  const dev = new TestDevice(40 * 1024); // 20 MiB
  const { port } = await serve({ vol: dev });
  const r = await connect(port, 'vol', 1);
  const big = pattern(100, 36 * 1024, 512, 5); // 18 MiB: more than one frame may carry
  await r.write(100, big, false);
  assert.ok(dev.data.subarray(100 * 512, 100 * 512 + big.length).equals(big));
  assert.ok((await r.read(100, 36 * 1024)).equals(big));
});

test('replica_errors: device errors arrive with their stable codes', async () => {
  const dev = new TestDevice(64);
  const { port } = await serve({ vol: dev });
  const r = await connect(port, 'vol', 1);
  await assert.rejects(r.read(60, 8), { code: 'OUT_OF_RANGE' });
  dev.mode = 'error';
  await assert.rejects(r.write(0, Buffer.alloc(512), false), { code: 'MEDIUM_ERROR' });
  await assert.rejects(r.write(0, Buffer.alloc(100), false), { code: 'REPLICA_REMOTE_ERROR' });
  assert.equal(r.failed, false, 'request errors do not break the connection');
  await assert.rejects(connect(port, 'nope', 1), { code: 'REPLICA_NOT_FOUND' });
});

test('replica_fencing: a newer generation fences older connections, persisted', async () => {
  const dev = new TestDevice(64);
  const store = new MemoryGenerationStore();
  const { port, server } = await serve({ vol: dev }, store);
  const old = await connect(port, 'vol', 1);
  await old.write(0, pattern(0, 1, 512, 1), false);
  const newer = await connect(port, 'vol', 2);
  assert.equal(store.get('vol'), 2);
  await assert.rejects(old.write(0, pattern(0, 1, 512, 2), false), { code: 'STALE_GENERATION', currentGeneration: 2 });
  await assert.rejects(old.read(0, 1), { code: 'STALE_GENERATION' });
  await assert.rejects(old.fence(1), { code: 'STALE_GENERATION' });
  await newer.write(0, pattern(0, 1, 512, 3), false);
  assert.ok(dev.data.subarray(0, 512).equals(pattern(0, 1, 512, 3)));
  // A restarted server reads the generation back from the store.
  await server.close();
  const again = await serve({ vol: dev }, store);
  await assert.rejects(connect(again.port, 'vol', 1), { code: 'STALE_GENERATION' });
  await connect(again.port, 'vol', 2);
});

test('replica_version: a peer of another version is told so, cleanly', async () => {
  const { port } = await serve({ vol: new TestDevice(8) });
  // A future client: its frames carry version 3 (header layout unknown to us).
  const frame = encodeHeader(ReplicaOp.PING, 0, 1, 0, 0, 0, 0);
  frame[4] = 3;
  const frames = await rawExchange(port, frame.subarray(0, 6));
  assert.equal(frames.length, 1);
  assert.equal(frames[0].status, ReplicaStatus.VERSION_MISMATCH);
  assert.equal(frames[0].arg64, REPLICA_PROTOCOL_VERSION, 'the reply names the server version');
  // A version-1 engine (no authentication) is told the same, so it never reaches a replica.
  const v1 = encodeHeader(ReplicaOp.HELLO, 0, 1, 3, 1, 1, 0);
  v1[4] = 1;
  const old = await rawExchange(port, Buffer.concat([v1, Buffer.from('vol')]));
  assert.equal(old[0].status, ReplicaStatus.VERSION_MISMATCH);
  // A HELLO announcing another version in its body.
  const [h, name] = encodeRequest({ op: ReplicaOp.HELLO, id: 9, version: 3, generation: 1, volume: 'vol', proof: Buffer.alloc(32) });
  const sock = net.connect({ port, host: '127.0.0.1' });
  const reply = await new Promise<{ status: number }>((resolve) => {
    const framer = new ReplicaFramer((hdr) => resolve(hdr));
    sock.on('data', (c) => framer.push(c));
    sock.write(Buffer.concat([h, name as Buffer]));
  });
  sock.destroy();
  assert.equal(reply.status, ReplicaStatus.VERSION_MISMATCH);
});

test('replica_version: a client meeting a server of another version fails with REPLICA_VERSION_MISMATCH', async () => {
  const fake = net.createServer((s) => s.once('data', () => {
    const reply = encodeHeader(ReplicaOp.HELLO | 0x80, 0, 1, 0, 0, 0, 0);
    reply[4] = 3;
    s.end(reply);
  }));
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => fake.close(r)));
  const port = (fake.address() as net.AddressInfo).port;
  await assert.rejects(RemoteReplica.connect({ host: '127.0.0.1', port, volume: 'vol', generation: 1 }), { code: 'REPLICA_VERSION_MISMATCH', peerVersion: 3 });
});

test('replica_limits: an oversized frame and garbage are refused, the server keeps serving', async () => {
  const { port } = await serve({ vol: new TestDevice(8) });
  const huge = encodeHeader(ReplicaOp.WRITE, 0, 1, 0xffff_fff0, 0, 1, 0);
  const frames = await rawExchange(port, huge);
  assert.equal(frames[0].status, ReplicaStatus.INVALID_REQUEST);
  assert.match(frames[0].message, /exceeds the limit/);
  const junk = await rawExchange(port, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  assert.equal(junk[0].status, ReplicaStatus.INVALID_REQUEST);
  const r = await connect(port, 'vol', 1);
  await r.ping();
});

test('replica_connection_loss: in-flight ops reject DEVICE_GONE and the replica reports itself failed', async () => {
  const dev = new TestDevice(64);
  const { port, server } = await serve({ vol: dev });
  const r = await connect(port, 'vol', 1);
  const failures: Error[] = [];
  r.onFailed((e) => failures.push(e));
  dev.mode = 'hang';
  const inflight = [r.read(0, 1), r.write(1, Buffer.alloc(512), false), r.flush()];
  await new Promise((res) => setTimeout(res, 20));
  await server.close();
  for (const p of inflight) await assert.rejects(p, { code: 'DEVICE_GONE' });
  assert.equal(r.failed, true);
  assert.equal(failures.length, 1);
  await assert.rejects(r.ping(), { code: 'DEVICE_GONE' });
});

test('replica_timeout: an unanswered op fails the connection within the op timeout', async () => {
  const dev = new TestDevice(64);
  const { port } = await serve({ vol: dev });
  const r = await connect(port, 'vol', 1, 150);
  dev.mode = 'hang';
  const t0 = Date.now();
  await assert.rejects(r.read(0, 1), (err: Error & { code?: string }) => err.code === 'DEVICE_GONE' && /within 150 ms/.test(err.message));
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 2500, `took ${took}`);
  assert.equal(r.failed, true);
});

test('replica_eof: a server that dies mid-reply is told apart from a clean close', async () => {
  for (const midFrame of [true, false]) {
    const fake = net.createServer((s) => {
      const framer = new ReplicaFramer((h) => {
        if (h.op === ReplicaOp.HELLO) s.write(Buffer.concat([encodeHeader(ReplicaOp.HELLO | 0x80, 0, h.requestId, 8, 64, 512, 0), Buffer.alloc(8)]));
        else if (h.op === ReplicaOp.FENCE) s.write(encodeHeader(ReplicaOp.FENCE | 0x80, 0, h.requestId, 0, h.arg64, 0, 0));
        else if (midFrame) s.end(encodeHeader(ReplicaOp.READ | 0x80, 0, h.requestId, 512, 0, 1, 0).subarray(0, 20));
        else s.end();
      });
      s.on('data', (c) => framer.push(c));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => fake.close(r)));
    const r = await connect((fake.address() as net.AddressInfo).port, 'vol', 1);
    await assert.rejects(r.read(0, 1), { code: 'DEVICE_GONE' });
    assert.equal((r.failure as Error & { code?: string }).code, midFrame ? 'REPLICA_TRUNCATED_FRAME' : 'DEVICE_GONE');
  }
});
