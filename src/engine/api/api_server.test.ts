import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../engine.ts';
import type { ExportRequest, ExportView } from '../engine_types.ts';
import { silentLogger } from '../../util/log.ts';
import { BerthError } from '../../util/errors.ts';
import { buildApiServer } from './api_server.ts';
import { IoStats } from '../../scsi/index.ts';

/** A stand-in engine: routes are tested for validation, shaping and error mapping only. */
function fakeEngine() {
  const calls: unknown[] = [];
  const pool = {
    name: 'p', uuid: 'u', path: '/p', formatVersion: 1, extentSize: 4194304, capacityBytes: 100, usedBytes: 10,
    freeBytes: 90, volumeCount: 1, thinProvisionedBytes: 5, state: 'online' as const, internal: 'hidden',
  };
  const exp: ExportView = {
    pool: 'p', volume: 'v', targetIqn: 'iqn.2026-11.io.berth:p.v', lun: 0, portal: '127.0.0.1:3260',
    url: 'iscsi://127.0.0.1:3260/iqn.2026-11.io.berth:p.v/0', allowedInitiators: null, chap: { user: 'u' }, state: 'online',
  };
  const engine = {
    portal: { host: '127.0.0.1', port: 3260 },
    listPools: () => [pool, { name: 'bad', path: '/bad', state: 'faulted', reason: 'POOL_CORRUPT: x' }],
    describePool: (n: string) => {
      if (n !== 'p') throw new BerthError('POOL_NOT_FOUND', `pool '${n}' is not registered`);
      return pool;
    },
    createPool: async (r: unknown) => { calls.push(r); return pool; },
    listVolumes: async () => [],
    createVolume: async () => { throw new BerthError('NO_SPACE', 'pool p is full'); },
    listExports: () => [exp],
    createExport: async (r: ExportRequest) => { calls.push(r); return { ...exp, secretLeak: r.chap?.secret }; },
    deleteExport: async () => { throw new BerthError('EXPORT_NOT_FOUND', 'not exported'); },
    listTargets: () => [],
    sessions: () => [],
    exportCount: () => 1,
    listLocalAttaches: () => [{ pool: 'p', volume: 'v', path: '/attach/p@v', errors: { 5: 2 } }],
    exportIoStats: () => [{ pool: 'p', volume: 'v', stats: new IoStats(512) }],
    nexuses: { list: () => [] },
    importedPool: () => ({ listSnapshots: () => [{ name: 's', exclusiveBytes: 7 }] }),
  };
  return { engine: engine as unknown as Engine, calls };
}

test('health, pools, faulted pools and response filtering', async () => {
  const { engine } = fakeEngine();
  const app = await buildApiServer(engine, silentLogger());
  try {
    const h = await app.inject({ method: 'GET', url: '/v1/health' });
    assert.equal(h.statusCode, 200);
    assert.deepEqual(h.json().pools, { online: 1, faulted: 1 });
    const list = (await app.inject({ method: 'GET', url: '/v1/pools' })).json();
    assert.equal(list.pools.length, 2);
    assert.equal(list.pools[0].internal, undefined, 'unlisted properties never leave the server');
    assert.equal(list.pools[1].reason, 'POOL_CORRUPT: x');
    const missing = await app.inject({ method: 'GET', url: '/v1/pools/nope' });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { error: { code: 'POOL_NOT_FOUND', message: "pool 'nope' is not registered" } });
  } finally {
    await app.close();
  }
});

test('bad input is 400 INVALID_ARGUMENT before the engine is called', async () => {
  const { engine, calls } = fakeEngine();
  const app = await buildApiServer(engine, silentLogger());
  try {
    const bad = [
      { name: 'has space' },
      { name: 'ok', sizeBytes: '10' },
      { name: 'ok', sizeBytes: -1 },
      { name: 'ok', extra: true },
      {},
    ];
    for (const payload of bad) {
      const r = await app.inject({ method: 'POST', url: '/v1/pools', payload });
      assert.equal(r.statusCode, 400, JSON.stringify(payload));
      assert.equal(r.json().error.code, 'INVALID_ARGUMENT');
    }
    const notJson = await app.inject({ method: 'POST', url: '/v1/pools', headers: { 'content-type': 'application/json' }, payload: '{' });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json().error.code, 'BAD_REQUEST');
    const shortSecret = await app.inject({
      method: 'POST', url: '/v1/exports', payload: { pool: 'p', volume: 'v', chap: { user: 'u', secret: 'short' } },
    });
    assert.equal(shortSecret.statusCode, 400);
    const badIqn = await app.inject({ method: 'POST', url: '/v1/exports', payload: { pool: 'p', volume: 'v', targetIqn: 'nope' } });
    assert.equal(badIqn.statusCode, 400);
    assert.equal(calls.length, 0);
    const unknown = await app.inject({ method: 'GET', url: '/v1/nothing' });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error.code, 'ROUTE_NOT_FOUND');
  } finally {
    await app.close();
  }
});

test('engine errors map to statuses; CHAP secrets never come back', async () => {
  const { engine, calls } = fakeEngine();
  const app = await buildApiServer(engine, silentLogger());
  try {
    const full = await app.inject({ method: 'POST', url: '/v1/pools/p/volumes', payload: { name: 'v', sizeBytes: 4096 } });
    assert.equal(full.statusCode, 507);
    assert.equal(full.json().error.code, 'NO_SPACE');
    const gone = await app.inject({ method: 'DELETE', url: '/v1/exports/p/v' });
    assert.equal(gone.statusCode, 404);
    const secret = 'sekrit-0123456789';
    const r = await app.inject({
      method: 'POST', url: '/v1/exports',
      payload: { pool: 'p', volume: 'v', allowedInitiators: ['iqn.2026-01.org.example:host1'], chap: { user: 'u', secret } },
    });
    assert.equal(r.statusCode, 201);
    assert.doesNotMatch(r.body, /sekrit/);
    assert.deepEqual(r.json().chap, { user: 'u' });
    assert.deepEqual((calls[0] as ExportRequest).chap, { user: 'u', secret });
  } finally {
    await app.close();
  }
});

test('metrics and openapi', async () => {
  const { engine } = fakeEngine();
  const app = await buildApiServer(engine, silentLogger());
  try {
    const m = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(m.statusCode, 200);
    assert.match(m.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    assert.match(m.body, /^berth_pool_capacity_bytes\{pool="p"\} 100$/m);
    assert.match(m.body, /^berth_pool_online\{pool="bad"\} 0$/m);
    assert.match(m.body, /^berth_exports 1$/m);
    assert.match(m.body, /^berth_local_attaches 1$/m);
    assert.match(m.body, /^berth_local_attach_errors_total\{pool="p",volume="v",errno="5"\} 2$/m);
    assert.match(m.body, /^berth_snapshot_exclusive_bytes\{pool="p",snapshot="s"\} 7$/m);
    // I/O families from prom-client's exposition, and its process metrics.
    assert.match(m.body, /^# TYPE berth_volume_io_latency_seconds histogram$/m);
    assert.match(m.body, /^berth_volume_io_latency_seconds_bucket\{pool="p",volume="v",op="read",le="0.00005"\} 0$/m);
    assert.match(m.body, /^berth_volume_io_ops_total\{pool="p",volume="v",op="write"\} 0$/m);
    assert.match(m.body, /^process_cpu_seconds_total /m);
    const doc = (await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
    assert.equal(doc.openapi, '3.0.3');
    assert.ok(doc.paths['/v1/pools/{pool}/volumes/{volume}'].patch.requestBody);
    assert.equal(doc.paths['/metrics'], undefined);
  } finally {
    await app.close();
  }
});
