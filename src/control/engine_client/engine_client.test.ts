import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EngineClient } from './engine_client.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.end();
const server = createServer((req, res) => handler(req, res));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

const json = (status: number, body: unknown): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

test('engine error bodies come back with the engine\'s own code', async () => {
  handler = json(507, { error: { code: 'NO_SPACE', message: 'pool full' } });
  const c = new EngineClient({ endpoint });
  await assert.rejects(c.createReplica({ pool: 'p', name: 'r-1', sizeBytes: 512, thin: true }), { code: 'NO_SPACE', status: 507 });
});

test('lookups and deletes treat NOT_FOUND as absent, not as failure', async () => {
  handler = json(404, { error: { code: 'VOLUME_NOT_FOUND', message: 'no' } });
  const c = new EngineClient({ endpoint });
  assert.equal(await c.getReplica('p', 'r-1'), undefined);
  await c.destroyReplica('p', 'r-1');
  await c.destroyExport('p', 'r-1');
});

test('a missing nexus route is NOT_IMPLEMENTED', async () => {
  handler = json(404, { error: { code: 'ROUTE_NOT_FOUND', message: 'no route' } });
  await assert.rejects(new EngineClient({ endpoint }).createNexus({ name: 'v', replicas: [{ node: 'local', pool: 'p', volume: 'r-1' }] }), { code: 'NOT_IMPLEMENTED' });
});

test('flushes before a pause post to the flush routes; an engine without them is NOT_IMPLEMENTED', async () => {
  const seen: string[] = [];
  handler = (req, res) => { seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? ''}`); json(200, { rounds: 2, flushMs: 4.5 })(req, res); };
  const c = new EngineClient({ endpoint });
  assert.deepEqual(await c.flushNexus('pvc 1'), { rounds: 2, flushMs: 4.5 });
  assert.deepEqual(await c.flushExport('p', 'r-1'), { rounds: 2, flushMs: 4.5 });
  assert.deepEqual(seen, ['POST /v1/nexus/pvc%201/flush ', 'POST /v1/exports/p/r-1/flush ']);
  handler = json(404, { error: { code: 'ROUTE_NOT_FOUND', message: 'no route' } });
  await assert.rejects(c.flushNexus('v'), { code: 'NOT_IMPLEMENTED' });
  await assert.rejects(c.flushExport('p', 'r-1'), { code: 'NOT_IMPLEMENTED' });
  handler = json(404, { error: { code: 'NEXUS_NOT_FOUND', message: 'no nexus' } });
  await assert.rejects(c.flushNexus('v'), { code: 'NEXUS_NOT_FOUND' });
});

test('a slow engine is ENGINE_TIMEOUT, a closed port ENGINE_UNREACHABLE, garbage ENGINE_BAD_RESPONSE', async () => {
  handler = () => undefined;
  await assert.rejects(new EngineClient({ endpoint, timeoutMs: 100 }).listPools(), { code: 'ENGINE_TIMEOUT' });
  await assert.rejects(new EngineClient({ endpoint: '127.0.0.1:1' }).listPools(), { code: 'ENGINE_UNREACHABLE' });
  handler = (_req, res) => res.writeHead(200).end('not json');
  await assert.rejects(new EngineClient({ endpoint }).listPools(), { code: 'ENGINE_BAD_RESPONSE' });
});

test('requests carry JSON bodies to the documented routes', async () => {
  let seen = '';
  handler = (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen = `${req.method} ${req.url} ${body}`;
      json(201, { pool: 'p', volume: 'r-1', targetIqn: 'iqn.x', lun: 0, portal: 'h:1', url: 'iscsi://h:1/iqn.x/0', allowedInitiators: ['iqn.y'], state: 'online' })(req, res);
    });
  };
  const e = await new EngineClient({ endpoint: `http://${endpoint}/` }).createExport({ pool: 'p', volume: 'r-1', allowedInitiators: ['iqn.y'] });
  assert.equal(e.targetIqn, 'iqn.x');
  assert.equal(seen, 'POST /v1/exports {"pool":"p","volume":"r-1","allowedInitiators":["iqn.y"]}');
});

test('nexus calls use the engine\'s nexus routes (replica names URL-encoded); a missing nexus is absent', async () => {
  const seen: string[] = [];
  handler = (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      json(200, { name: 'v', generation: 3, replicas: [], export: null, nexuses: [] })(req, res);
    });
  };
  const c = new EngineClient({ endpoint });
  await c.createNexus({ name: 'v', replicas: [{ node: 'local', pool: 'p', volume: 'r-1' }], generation: 3, requireFenced: 1 });
  await c.exportNexus('v', { targetIqn: 'iqn.t', allowedInitiators: ['iqn.i'] });
  await c.addNexusReplica('v', { node: 'h:9', pool: 'p', volume: 'r-2', full: true });
  await c.removeNexusReplica('v', 'h:9/p/r-2');
  await c.unexportNexus('v');
  await c.destroyNexus('v');
  assert.deepEqual(await c.listNexuses(), []);
  assert.deepEqual(seen, [
    'POST /v1/nexus {"name":"v","replicas":[{"node":"local","pool":"p","volume":"r-1"}],"generation":3,"requireFenced":1}',
    'POST /v1/nexus/v/export {"targetIqn":"iqn.t","allowedInitiators":["iqn.i"]}',
    'POST /v1/nexus/v/replicas {"node":"h:9","pool":"p","volume":"r-2","full":true}',
    'DELETE /v1/nexus/v/replicas/h%3A9%2Fp%2Fr-2 ',
    'DELETE /v1/nexus/v/export ',
    'DELETE /v1/nexus/v ',
    'GET /v1/nexus ',
  ]);
  handler = json(404, { error: { code: 'NEXUS_NOT_FOUND', message: 'no' } });
  assert.equal(await c.getNexus('v'), undefined);
  await c.destroyNexus('v');
});
