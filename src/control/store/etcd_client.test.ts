import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { EtcdClient, EtcdRequestError } from './etcd_client.ts';

/**
 * The retry policy against scripted gateways on 127.0.0.1. A real etcd cluster gives
 * these answers only in a timing window (an election on a loaded host; see
 * test/control/etcd_ha.test.ts for the real thing), so the answers are scripted here.
 */
type Reply = { status: number; body: unknown } | 'hang';

interface Gateway { readonly endpoint: string; readonly hits: string[]; close(): Promise<void> }

async function gateway(script: (path: string, n: number) => Reply): Promise<Gateway> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      hits.push(path);
      const reply = script(path, hits.length);
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const noLeader = { status: 503, body: { code: 14, message: 'etcdserver: no leader' } };
const leaderChanged = { status: 503, body: { code: 14, message: 'etcdserver: leader changed' } };
const ok = { status: 200, body: { header: { revision: '7' } } };

/** A port nothing listens on: bound, read, closed. */
async function deadEndpoint(): Promise<string> {
  const g = await gateway(() => ok);
  await g.close();
  return g.endpoint;
}

test('a read rides out an election: every member answering "leader changed" is retried until one answers', async () => {
  const a = await gateway((_p, n) => (n <= 3 ? leaderChanged : ok));
  const b = await gateway(() => leaderChanged);
  try {
    const client = new EtcdClient({ endpoints: [await deadEndpoint(), a.endpoint, b.endpoint], timeoutMs: 10_000 });
    const r = await client.call<{ header: { revision: string } }>('/v3/kv/range', { key: 'AA==' });
    assert.equal(r.header.revision, '7');
    assert.ok(b.hits.length >= 3, 'the round went on to the other member each time');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a write is replayed on "no leader" (never proposed) but not on "leader changed" (may have been applied)', async () => {
  const a = await gateway((_p, n) => (n <= 2 ? noLeader : ok));
  try {
    const client = new EtcdClient({ endpoints: [a.endpoint], timeoutMs: 10_000 });
    await client.call('/v3/kv/txn', {});
    assert.equal(a.hits.length, 3);
  } finally {
    await a.close();
  }
  const b = await gateway(() => leaderChanged);
  const c = await gateway(() => ok);
  try {
    const client = new EtcdClient({ endpoints: [b.endpoint, c.endpoint], timeoutMs: 10_000 });
    await assert.rejects(client.call('/v3/kv/txn', {}), (e) => e instanceof EtcdRequestError && /leader changed/.test(e.message));
    assert.deepEqual(c.hits, [], 'not replayed elsewhere');
    // The next call starts with the other member.
    await client.call('/v3/kv/txn', {});
    assert.deepEqual(c.hits, ['/v3/kv/txn']);
  } finally {
    await b.close();
    await c.close();
  }
});

test('a write that got no answer is not replayed; a read that got none goes to the next member', async () => {
  const hung = await gateway(() => 'hang');
  const good = await gateway(() => ok);
  try {
    const write = new EtcdClient({ endpoints: [hung.endpoint, good.endpoint], timeoutMs: 1500 });
    await assert.rejects(write.call('/v3/kv/put', {}), { code: 'STORE_UNAVAILABLE' });
    assert.deepEqual(good.hits, []);
    const read = new EtcdClient({ endpoints: [hung.endpoint, good.endpoint], timeoutMs: 4000 });
    await read.call('/v3/kv/range', {});
    assert.deepEqual(good.hits, ['/v3/kv/range']);
  } finally {
    await hung.close();
    await good.close();
  }
});

test('with no member able to serve, the call fails once its deadline has passed, naming the members', async () => {
  const a = await gateway(() => noLeader);
  try {
    const dead = await deadEndpoint();
    const client = new EtcdClient({ endpoints: [dead, a.endpoint], timeoutMs: 2000 });
    await assert.rejects(client.call('/v3/kv/range', {}), { code: 'STORE_UNAVAILABLE' });
    assert.ok(a.hits.length >= 2, 'retried within the deadline');
    const refusedOnly = new EtcdClient({ endpoints: [dead], timeoutMs: 300 });
    await assert.rejects(refusedOnly.call('/v3/kv/range', {}), { code: 'STORE_UNAVAILABLE', message: new RegExp(`unreachable at ${dead}`) });
  } finally {
    await a.close();
  }
});

test('an error etcd means (a bad request) is not retried', async () => {
  const a = await gateway(() => ({ status: 400, body: { code: 3, message: 'etcdserver: key is not provided' } }));
  try {
    const client = new EtcdClient({ endpoints: [a.endpoint], timeoutMs: 5000 });
    await assert.rejects(client.call('/v3/kv/range', {}), (e) => e instanceof EtcdRequestError && e.grpcCode === 3);
    assert.equal(a.hits.length, 1);
  } finally {
    await a.close();
  }
});
