/**
 * The engine API and the `berth` CLI against a real engine process: the full life of a
 * pool, a volume and an export, JSON and table output, precise 4xx codes, and CHAP
 * secrets that never come back out (API, CLI, state file mode, log).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { freePort } from '../helpers/tools.ts';
import { berth, call, ok, refused, GiB, MiB, type ExportDoc } from './engine_kit.ts';

let engine: EngineProcess;
const SECRET = 'apitest-secret-0123';
const MUTUAL = 'apitest-mutual-4567';

before(async () => {
  engine = await startEngine({ logLevel: 'debug' });
});
after(async () => {
  const code = await engine?.stop();
  assert.equal(code, 0, 'SIGTERM ends the engine with exit code 0');
});

test('pool, volume and export round trip through the API', async () => {
  const api = engine.api;
  assert.equal((await ok(api, 'GET', '/v1/health')).status, 'ok');
  const pool = await ok(api, 'POST', '/v1/pools', { name: 'p1', sizeBytes: 2 * GiB });
  assert.equal(pool.name, 'p1');
  assert.equal(pool.state, 'online');
  assert.equal(pool.path, join(engine.dataDir, 'pools', 'p1.pool'));
  assert.equal(pool.volumeCount, 0);
  await refused(api, 'POST', '/v1/pools', { name: 'p1', sizeBytes: GiB }, 409, 'POOL_EXISTS');

  const vol = await ok(api, 'POST', '/v1/pools/p1/volumes', { name: 'v1', sizeBytes: 256 * MiB, thin: true });
  assert.equal(vol.sizeBytes, 256 * MiB);
  assert.equal(vol.thin, true);
  assert.equal(vol.export, null);
  await refused(api, 'POST', '/v1/pools/p1/volumes', { name: 'v1', sizeBytes: MiB }, 409, 'VOLUME_EXISTS');
  await refused(api, 'POST', '/v1/pools/nope/volumes', { name: 'v1', sizeBytes: MiB }, 404, 'POOL_NOT_FOUND');
  await refused(api, 'GET', '/v1/pools/p1/volumes/nope', undefined, 404, 'VOLUME_NOT_FOUND');

  const ex = await ok<ExportDoc & { chap: unknown }>(api, 'POST', '/v1/exports', {
    pool: 'p1', volume: 'v1', allowedInitiators: null, chap: { user: 'alice', secret: SECRET, mutualUser: 'tgt', mutualSecret: MUTUAL },
  });
  assert.equal(ex.targetIqn, 'iqn.2026-11.io.berth:p1.v1');
  assert.equal(ex.lun, 0);
  assert.equal(ex.portal, `${engine.iscsi.host}:${engine.iscsi.port}`);
  assert.equal(ex.url, `iscsi://${ex.portal}/${ex.targetIqn}/0`);
  assert.deepEqual(ex.chap, { user: 'alice', mutualUser: 'tgt' });
  await refused(api, 'POST', '/v1/exports', { pool: 'p1', volume: 'v1' }, 409, 'EXPORT_EXISTS');

  // A second volume on the same target takes the next LUN; an explicit taken LUN is refused.
  await ok(api, 'POST', '/v1/pools/p1/volumes', { name: 'v2', sizeBytes: 64 * MiB, thin: false });
  await refused(api, 'POST', '/v1/exports', { pool: 'p1', volume: 'v2', targetIqn: ex.targetIqn, lun: 0 }, 409, 'LUN_EXISTS');
  const ex2 = await ok<ExportDoc>(api, 'POST', '/v1/exports', { pool: 'p1', volume: 'v2', targetIqn: ex.targetIqn });
  assert.equal(ex2.lun, 1);
  const targets = await ok<{ targets: { iqn: string; luns: unknown[] }[] }>(api, 'GET', '/v1/targets');
  assert.deepEqual(targets.targets.map((t) => [t.iqn, t.luns.length]), [[ex.targetIqn, 2]]);

  const described = await ok(api, 'GET', '/v1/pools/p1/volumes/v1');
  assert.deepEqual(described.export, { targetIqn: ex.targetIqn, lun: 0, url: ex.url });
  const grown = await ok(api, 'PATCH', '/v1/pools/p1/volumes/v1', { sizeBytes: 512 * MiB });
  assert.equal(grown.sizeBytes, 512 * MiB);
  await refused(api, 'PATCH', '/v1/pools/p1/volumes/v1', { sizeBytes: 128 * MiB }, 422, 'SHRINK_NOT_SUPPORTED');

  await refused(api, 'DELETE', '/v1/pools/p1/volumes/v1', undefined, 409, 'VOLUME_EXPORTED');
  await refused(api, 'DELETE', '/v1/pools/p1', undefined, 409, 'VOLUME_EXPORTED');
  await ok(api, 'DELETE', '/v1/exports/p1/v1');
  await refused(api, 'DELETE', '/v1/exports/p1/v1', undefined, 404, 'EXPORT_NOT_FOUND');
  await ok(api, 'DELETE', '/v1/exports/p1/v2');
  assert.deepEqual((await ok<{ targets: unknown[] }>(api, 'GET', '/v1/targets')).targets, [], 'an empty target goes away');
  await ok(api, 'DELETE', '/v1/pools/p1/volumes/v1');
  await refused(api, 'DELETE', '/v1/pools/p1', undefined, 409, 'POOL_NOT_EMPTY');
  await ok(api, 'DELETE', '/v1/pools/p1/volumes/v2');
  await ok(api, 'DELETE', '/v1/pools/p1');
  await refused(api, 'GET', '/v1/pools/p1', undefined, 404, 'POOL_NOT_FOUND');
});

test('bad input gets 400 with a code, never a crash', async () => {
  const api = engine.api;
  await refused(api, 'POST', '/v1/pools', { name: '../etc', sizeBytes: GiB }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/pools', { name: 'x', sizeBytes: 'big' }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/pools', { name: 'x', sizeBytes: GiB, surprise: 1 }, 400, 'INVALID_ARGUMENT');
  await ok(api, 'POST', '/v1/pools', { name: 'p2', sizeBytes: GiB });
  await refused(api, 'POST', '/v1/pools/p2/volumes', { name: 'v', sizeBytes: 1000 }, 400, 'INVALID_SIZE');
  await refused(api, 'POST', '/v1/pools/p2/volumes', { name: 'v', sizeBytes: MiB, blockSize: 1024 }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/pools/p2/volumes', { name: 'thick', sizeBytes: 64 * GiB, thin: false }, 507, 'NO_SPACE');
  await refused(api, 'POST', '/v1/pools/import', { path: join(engine.dataDir, 'missing.pool') }, 404, 'POOL_NOT_FOUND');
  await ok(api, 'POST', '/v1/pools/p2/volumes', { name: 'v', sizeBytes: MiB });
  await refused(api, 'POST', '/v1/exports', { pool: 'p2', volume: 'v', targetIqn: 'not-an-iqn' }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/exports', { pool: 'p2', volume: 'v', lun: 256 }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/exports', { pool: 'p2', volume: 'v', chap: { user: 'u', secret: 'short' } }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/exports', {
    pool: 'p2', volume: 'v', chap: { user: 'u', secret: SECRET, mutualUser: 't', mutualSecret: SECRET },
  }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/exports', { pool: 'p2', volume: 'nope' }, 404, 'VOLUME_NOT_FOUND');
  const raw = await fetch(new URL('/v1/pools', api), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
  assert.equal(raw.status, 400);
  assert.equal(((await raw.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
  await refused(api, 'GET', '/v1/nowhere', undefined, 404, 'ROUTE_NOT_FOUND');
  assert.equal((await ok(api, 'GET', '/v1/health')).status, 'ok', 'still alive');
  await ok(api, 'DELETE', '/v1/pools/p2/volumes/v');
  await ok(api, 'DELETE', '/v1/pools/p2');
});

test('the CLI drives the same life cycle, in tables and JSON', async () => {
  const api = engine.api;
  const must = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> => {
    const r = await berth(api, args, env);
    assert.equal(r.code, 0, `berth ${args.join(' ')}\n${r.stderr}`);
    return r.stdout;
  };
  await must(['pool', 'create', 'cli', '--size', '1G']);
  assert.match(await must(['pool', 'list']), /│ cli +│ online +│ \d+ MiB/);
  const pools = JSON.parse(await must(['pool', 'list', '-o', 'json']));
  assert.equal(pools.pools[0].capacityBytes > 0, true);
  await must(['volume', 'create', 'cli/data', '--size', '64M', '--thin']);
  const vol = JSON.parse(await must(['volume', 'describe', 'cli/data', '--output', 'json']));
  assert.equal(vol.sizeBytes, 64 * MiB);
  await must(['volume', 'resize', 'cli/data', '128M']);
  assert.match(await must(['volume', 'list']), /data\s.*128 MiB/);

  const secretFile = join(engine.dataDir, 'chap-secret');
  await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
  const out = await must(['export', 'cli/data', '--allow', 'iqn.2026-11.io.berth.test:a', '--chap-user', 'bob', '--chap-secret-file', secretFile]);
  assert.match(out, /iscsi:\/\/.*\/iqn\.2026-11\.io\.berth:cli\.data\/0/);
  assert.doesNotMatch(out, new RegExp(SECRET));
  const list = JSON.parse(await must(['export', 'list', '-o', 'json']));
  assert.equal(list.exports[0].chap.user, 'bob');
  assert.deepEqual(list.exports[0].allowedInitiators, ['iqn.2026-11.io.berth.test:a']);
  assert.doesNotMatch(JSON.stringify(list), new RegExp(SECRET));
  assert.match(await must(['target', 'list']), /iqn\.2026-11\.io\.berth:cli\.data/);

  // Errors: `error: CODE: message` on stderr and a non-zero exit.
  const denied = await berth(api, ['export', 'create', 'cli/data', '--allow-any']);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /^error: EXPORT_EXISTS: /m);
  const noAcl = await berth(api, ['export', 'create', 'cli/other']);
  assert.match(noAcl.stderr, /^error: INVALID_ARGUMENT: say who may connect/m);
  const badSize = await berth(api, ['volume', 'create', 'cli/x', '--size', '12Q']);
  assert.match(badSize.stderr, /^error: INVALID_SIZE: /m);
  assert.notEqual(badSize.code, 0);
  const busy = await berth(api, ['volume', 'delete', 'cli/data']);
  assert.match(busy.stderr, /^error: VOLUME_EXPORTED: /m);
  const unreachable = await berth(`http://127.0.0.1:${await freePort()}`, ['pool', 'list']);
  assert.match(unreachable.stderr, /^error: API_UNREACHABLE: /m);

  await must(['unexport', 'cli/data']);
  await must(['volume', 'delete', 'cli/data']);
  await must(['pool', 'destroy', 'cli']);
  assert.match(await must(['pool', 'list']), /\(none\)/);
});

test('secrets stay out of the state file permissions, responses, metrics and logs', async () => {
  const api = engine.api;
  await ok(api, 'POST', '/v1/pools', { name: 's', sizeBytes: GiB });
  await ok(api, 'POST', '/v1/pools/s/volumes', { name: 'v', sizeBytes: 16 * MiB });
  await ok(api, 'POST', '/v1/exports', { pool: 's', volume: 'v', chap: { user: 'carol', secret: SECRET } });
  const st = await stat(join(engine.dataDir, 'engine.json'));
  assert.equal(st.mode & 0o777, 0o600, 'engine.json holds CHAP secrets: owner only');
  assert.match(await readFile(join(engine.dataDir, 'engine.json'), 'utf8'), new RegExp(SECRET), 'the secret is persisted');
  for (const path of ['/v1/exports', '/v1/targets', '/v1/exports/s/v', '/metrics', '/v1/health']) {
    const r = await call(api, 'GET', path);
    assert.equal(r.status, 200, path);
    assert.doesNotMatch(r.text, new RegExp(SECRET), path);
  }
  assert.doesNotMatch(engine.diagnostics(), new RegExp(`${SECRET}|${MUTUAL}`), 'no secret in the log');
  const metrics = await (await fetch(new URL('/metrics', api))).text();
  assert.match(metrics, /^berth_pool_capacity_bytes\{pool="s"\} \d+$/m);
  assert.match(metrics, /^berth_exports 1$/m);
  await ok(api, 'DELETE', '/v1/exports/s/v');
  await ok(api, 'DELETE', '/v1/pools/s/volumes/v');
  await ok(api, 'DELETE', '/v1/pools/s');
});
