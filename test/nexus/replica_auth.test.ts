/**
 * The replica protocol's token authentication (docs/replica-protocol.md, version 2):
 * a real replica server and clients over TCP, then real engines. A stranger without the
 * cluster token cannot attach to a replica (as a nexus would), a server without it cannot
 * pass for a replica server, and with the token everything works. An engine whose replica
 * server would listen off loopback without a token refuses to start.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaServer } from '../../src/replica/replica_server.ts';
import { RemoteReplica } from '../../src/replica/remote_replica.ts';
import { MemoryGenerationStore } from '../../src/replica/replica_generations.ts';
import { ReplicaFramer } from '../../src/replica/replica_framer.ts';
import { encodeHeader, encodeRequest } from '../../src/replica/replica_codec.ts';
import { ReplicaAuthKeys, decodeAuthReply } from '../../src/replica/replica_auth.ts';
import { REPLICA_PROTOCOL_VERSION, ReplicaOp, ReplicaStatus } from '../../src/replica/replica_protocol.ts';
import { TestDevice, pattern } from '../../src/nexus/nexus_test_devices.ts';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { apiRequest } from '../helpers/api.ts';
import { nodeBin, repoRoot } from '../helpers/tools.ts';

const TOKEN = randomBytes(32).toString('hex');
const WRONG = randomBytes(32).toString('hex');
const MiB = 2 ** 20;
const cleanups: Array<() => unknown> = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function serve(dev: TestDevice, tokens?: string[]): Promise<number> {
  const server = new ReplicaServer({ resolve: (v) => (v === 'vol' ? dev : undefined), generations: new MemoryGenerationStore(), ...(tokens ? { auth: new ReplicaAuthKeys(tokens) } : {}) });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close());
  return port;
}

async function connect(port: number, tokens?: string[]): Promise<RemoteReplica> {
  const r = await RemoteReplica.connect({ host: '127.0.0.1', port, volume: 'vol', generation: 1, opTimeoutMs: 5000, ...(tokens ? { auth: new ReplicaAuthKeys(tokens) } : {}) });
  cleanups.push(() => r.close());
  return r;
}

/** Writes frames one by one as replies arrive; returns every reply and whether the server closed. */
function rawSession(port: number, first: Buffer[], next?: (reply: { op: number; status: number; payload: Buffer }) => Buffer[] | undefined): Promise<{ replies: Array<{ op: number; status: number; payload: Buffer }>; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const replies: Array<{ op: number; status: number; payload: Buffer }> = [];
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(Buffer.concat(first)));
    const framer = new ReplicaFramer((h, p) => {
      const reply = { op: h.op, status: h.status, payload: Buffer.from(p) };
      replies.push(reply);
      const more = next?.(reply);
      if (more && s.writable) s.write(Buffer.concat(more));
    });
    s.on('data', (c) => framer.push(c));
    s.on('error', reject);
    const timer = setTimeout(() => { s.destroy(); resolve({ replies, closed: false }); }, 3000);
    s.on('close', () => { clearTimeout(timer); resolve({ replies, closed: true }); });
  });
}

test('replica_auth: with the token a client attaches and does I/O; the server proved itself first', async () => {
  const dev = new TestDevice(64);
  const port = await serve(dev, [TOKEN]);
  const r = await connect(port, [TOKEN]);
  await r.write(0, pattern(0, 1, 512, 7), true);
  assert.ok((await r.read(0, 1)).equals(pattern(0, 1, 512, 7)));
  // Rotation (docs/security.md): with the next token added as the second line everywhere,
  // then moved first, engines at either step accept each other.
  const next = randomBytes(32).toString('hex');
  const midway = await serve(dev, [TOKEN, next]);
  await (await connect(midway, [next, TOKEN])).ping();
  await (await connect(port, [TOKEN, next])).ping();
});

test('replica_auth: a stranger cannot attach as a nexus, with no token, a wrong one, or a forged HELLO', async () => {
  const dev = new TestDevice(64);
  dev.data.fill(0x11, 0, 512);
  const port = await serve(dev, [TOKEN]);
  await assert.rejects(connect(port), { code: 'REPLICA_UNAUTHENTICATED' }, 'no token: HELLO without a proof');
  await assert.rejects(connect(port, [WRONG]), { code: 'REPLICA_UNAUTHENTICATED' }, 'wrong token: the client does not trust the server, nor the server the client');

  // A hand-made client that skips AUTH: HELLO is refused and the connection closed; the
  // WRITE pipelined behind it is never served.
  const [hello, helloBody] = encodeRequest({ op: ReplicaOp.HELLO, id: 1, version: REPLICA_PROTOCOL_VERSION, generation: 99, volume: 'vol', proof: Buffer.alloc(32) });
  const write = encodeHeader(ReplicaOp.WRITE, 0, 2, 512, 0, 1, 0);
  const bare = await rawSession(port, [hello, helloBody as Buffer, write, Buffer.alloc(512, 0xee)]);
  assert.equal(bare.replies[0].status, ReplicaStatus.UNAUTHENTICATED);
  assert.equal(bare.replies.length, 1, 'nothing after the refusal is answered');
  assert.equal(bare.closed, true);

  // A client that runs AUTH but proves with another token (or replays the server's own proof).
  for (const forge of ['wrong-token', 'reflect'] as const) {
    const cn = randomBytes(32);
    const [auth, authBody] = encodeRequest({ op: ReplicaOp.AUTH, id: 1, clientNonce: cn });
    const out = await rawSession(port, [auth, authBody as Buffer], (reply) => {
      if (reply.op !== (ReplicaOp.AUTH | 0x80)) return undefined;
      const { serverNonce, serverProof } = decodeAuthReply(reply.payload);
      const proof = forge === 'reflect' ? serverProof : new ReplicaAuthKeys([WRONG]).clientProof(cn, serverNonce);
      const [h, b] = encodeRequest({ op: ReplicaOp.HELLO, id: 2, version: REPLICA_PROTOCOL_VERSION, generation: 99, volume: 'vol', proof });
      return [h, b as Buffer, encodeHeader(ReplicaOp.FENCE, 0, 3, 0, 99, 0, 0)];
    });
    assert.equal(out.replies[0].status, ReplicaStatus.OK, `${forge}: AUTH is answered`);
    assert.equal(out.replies[1].status, ReplicaStatus.UNAUTHENTICATED, `${forge}: HELLO refused`);
    assert.equal(out.replies.length, 2, `${forge}: the FENCE behind it is not served`);
    assert.equal(out.closed, true);
  }
  assert.ok(dev.data.subarray(0, 512).equals(Buffer.alloc(512, 0x11)), 'the replica is untouched');
  // The real client still gets in after all that.
  await (await connect(port, [TOKEN])).ping();
});

test('replica_auth: a flood of strangers costs one warning line per window, not one each', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
  const server = new ReplicaServer({ resolve: () => new TestDevice(8), generations: new MemoryGenerationStore(), auth: new ReplicaAuthKeys([TOKEN]), log });
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.close());
  for (let i = 0; i < 5; i++) await assert.rejects(connect(port), { code: 'REPLICA_UNAUTHENTICATED' });
  const refusals = lines.filter((l) => l.includes('replica client refused'));
  assert.equal(refusals.length, 1, lines.join(''));
  assert.ok(!lines.join('').includes(TOKEN));
});

test('replica_auth: a server without the token cannot pass for a replica server', async () => {
  const open = await serve(new TestDevice(64));
  await assert.rejects(connect(open, [TOKEN]), (err: Error & { code?: string }) => err.code === 'REPLICA_UNAUTHENTICATED' && /no token/.test(err.message));
  const impostor = await serve(new TestDevice(64), [WRONG]);
  await assert.rejects(connect(impostor, [TOKEN]), (err: Error & { code?: string }) => err.code === 'REPLICA_UNAUTHENTICATED' && /could not prove/.test(err.message));
  // A fake that answers AUTH with random bytes and records what the client sends next.
  const seen: number[] = [];
  const fake = net.createServer((s) => {
    const framer = new ReplicaFramer((h) => {
      seen.push(h.op);
      if (h.op === ReplicaOp.AUTH) s.write(Buffer.concat([encodeHeader(ReplicaOp.AUTH | 0x80, 0, h.requestId, 64, 0, 0, 0), randomBytes(64)]));
    });
    s.on('data', (c) => framer.push(c));
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => fake.close(r)));
  await assert.rejects(connect((fake.address() as net.AddressInfo).port, [TOKEN]), { code: 'REPLICA_UNAUTHENTICATED' });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(seen, [ReplicaOp.AUTH], 'the client never sends HELLO (nor its proof, nor any data) to an impostor');
});

function runEngine(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [join(repoRoot, 'src', 'engine', 'main.ts'), ...args], { cwd: repoRoot, env: { ...process.env, BERTH_AUTH_TOKEN_FILE: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  });
}

test('replica_auth: an engine whose replica server would listen off loopback without a token refuses to start', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), `berth-repauth-${process.pid}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const refused = await runEngine(['--data-dir', join(dir, 'a'), '--api-listen', '127.0.0.1:0', '--iscsi-listen', '127.0.0.1:0', '--replica-listen', '0.0.0.0:0']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /--replica-listen 0\.0\.0\.0 is not a loopback address.*--auth-token-file/);
  // By default the replica server listens where iSCSI does: the same rule applies.
  const byDefault = await runEngine(['--data-dir', join(dir, 'b'), '--api-listen', '127.0.0.1:0', '--iscsi-listen', '0.0.0.0:0']);
  assert.notEqual(byDefault.code, 0);
  assert.match(byDefault.stderr, /--iscsi-listen.*0\.0\.0\.0 is not a loopback address/);
  // Said in so many words, it starts (with a warning in the log).
  const e = await startEngine({ args: ['--replica-listen', '0.0.0.0:0', '--insecure-no-auth'] });
  cleanups.push(() => e.stop());
});

test('replica_auth: engines sharing the token mirror a nexus; an engine with another token cannot reach the replica', { timeout: 180_000 }, async () => {
  const engines: EngineProcess[] = [];
  cleanups.push(async () => { for (const e of engines) await e.stop(); });
  for (const token of [TOKEN, TOKEN, WRONG]) engines.push(await startEngine({ authToken: token, args: ['--replica-listen', '127.0.0.1:0'] }));
  const [a, b, stranger] = engines;
  for (const e of engines) {
    await apiRequest(e.api, 'POST', '/v1/pools', { name: 'p', sizeBytes: 64 * MiB });
    await apiRequest(e.api, 'POST', '/v1/pools/p/volumes', { name: 'v', sizeBytes: 8 * MiB });
  }
  const bEnd = (await apiRequest<{ endpoint: string }>(b.api, 'GET', '/v1/replica-service')).endpoint;
  const made = await apiRequest<{ state: string; replicas: Array<{ state: string }> }>(a.api, 'POST', '/v1/nexus', {
    name: 'nx', sizeBytes: 8 * MiB, replicas: [{ node: 'local', pool: 'p', volume: 'v' }, { node: bEnd, pool: 'p', volume: 'v' }],
  });
  assert.equal(made.state, 'online');
  assert.deepEqual(made.replicas.map((r) => r.state), ['online', 'online'], 'the remote replica attached with the shared token');
  const refused = await apiRequest(stranger.api, 'POST', '/v1/nexus', {
    name: 'nx', sizeBytes: 8 * MiB, replicas: [{ node: 'local', pool: 'p', volume: 'v' }, { node: bEnd, pool: 'p', volume: 'v' }],
  }).then(() => undefined, (err: Error) => err);
  assert.ok(refused !== undefined, 'an engine with another token cannot build a nexus over the replica');
  assert.match(refused.message, /UNAUTHENTICATED|could not prove/);
});
