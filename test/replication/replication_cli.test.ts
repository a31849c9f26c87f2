/**
 * `berth nexus …` and `berth replica …` against two real engines on loopback: create a
 * 2-replica nexus, see it listed with states, take a replica out and back (a rebuild
 * shows in describe), set the throttle, and move the nexus to the other engine.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { apiRequest } from '../helpers/api.ts';
import { berth } from '../engine/engine_kit.ts';
import { sleep } from '../helpers/tools.ts';

const MiB = 1024 * 1024;
const engines: EngineProcess[] = [];
after(async () => { for (const e of engines) await e.stop(); });

async function json<T>(api: string, args: string[]): Promise<T> {
  const r = await berth(api, ['-o', 'json', ...args]);
  assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Doc { name: string; generation: number; state: string; uuid: string; replicas: Array<{ name: string; state: string; local: boolean; lastRebuild: unknown }> }

test('replication_cli: nexus create/list/describe/throttle/move and replica list/remove/add', { timeout: 120_000 }, async () => {
  for (let i = 0; i < 2; i++) engines.push(await startEngine({ args: ['--replica-listen', '127.0.0.1:0'] }));
  const [a, b] = engines;
  for (const e of engines) {
    await apiRequest(e.api, 'POST', '/v1/pools', { name: 'p', sizeBytes: 128 * MiB });
    await apiRequest(e.api, 'POST', '/v1/pools/p/volumes', { name: 'v', sizeBytes: 16 * MiB });
  }
  const aEnd = (await apiRequest<{ endpoint: string }>(a.api, 'GET', '/v1/replica-service')).endpoint;
  const bEnd = (await apiRequest<{ endpoint: string }>(b.api, 'GET', '/v1/replica-service')).endpoint;

  const created = await json<Doc>(a.api, ['nexus', 'create', 'nx', '-r', 'local/p/v', '-r', `${bEnd}/p/v`, '--size', '16M', '--export']);
  assert.equal(created.state, 'online');
  assert.equal(created.generation, 1);
  assert.deepEqual(created.replicas.map((r) => [r.name, r.local]), [[`${aEnd}/p/v`, true], [`${bEnd}/p/v`, false]]);

  const inUse = await berth(a.api, ['volume', 'delete', 'p/v']);
  assert.match(inUse.stderr, /VOLUME_IN_USE/);

  const table = await berth(a.api, ['nexus', 'list']);
  assert.match(table.stdout, /nx\s.*online.*2\/2 online/);
  const listed = await json<{ nexuses: Doc[] }>(a.api, ['nexus', 'list']);
  assert.equal(listed.nexuses.length, 1);

  const removed = await json<Doc>(a.api, ['replica', 'remove', 'nx', `${bEnd}/p/v`]);
  assert.equal(removed.replicas.length, 1);
  const refused = await berth(a.api, ['replica', 'remove', 'nx', 'local/p/v']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /NEXUS_CHILD_INVALID/);

  await json(a.api, ['nexus', 'throttle', 'nx', '64M']);
  await json(a.api, ['replica', 'add', 'nx', `${bEnd}/p/v`]);
  let doc: Doc | undefined;
  for (let i = 0; i < 100; i++) {
    doc = await json<Doc>(a.api, ['nexus', 'describe', 'nx']);
    if (doc.state === 'online') break;
    await sleep(100);
  }
  assert.equal(doc?.state, 'online');
  const described = await berth(a.api, ['nexus', 'describe', 'nx']);
  assert.match(described.stdout, /rebuild throttle\s+64 ?MiB\/s \(adaptive\)/);
  const fixed = await json<Doc & { rebuildThrottleMode: string; rebuildThrottleBytesPerSec: number }>(a.api, ['nexus', 'throttle', 'nx', '--mode', 'fixed']);
  assert.equal(fixed.rebuildThrottleMode, 'fixed');
  assert.equal(fixed.rebuildThrottleBytesPerSec, 64 * 2 ** 20, 'the cap stays when only the mode changes');
  assert.match((await berth(a.api, ['nexus', 'throttle', 'nx', '--mode', 'turbo'])).stderr, /INVALID_ARGUMENT/);
  assert.match(described.stdout, /last: online, copied/);
  const replicas = await json<{ replicas: Doc['replicas'] }>(a.api, ['replica', 'list', 'nx']);
  assert.ok(replicas.replicas.every((r) => r.state === 'online'));

  const moved = await json<Doc>(a.api, ['nexus', 'move', 'nx', '--to', b.api]);
  assert.equal(moved.generation, 2);
  assert.equal(moved.uuid, created.uuid);
  assert.equal(moved.state, 'online');
  assert.deepEqual(moved.replicas.map((r) => [r.name, r.local]), [[`${aEnd}/p/v`, false], [`${bEnd}/p/v`, true]]);
  assert.equal((await json<{ nexuses: Doc[] }>(a.api, ['nexus', 'list'])).nexuses.length, 0);
  const gone = await berth(a.api, ['nexus', 'describe', 'nx']);
  assert.match(gone.stderr, /NEXUS_NOT_FOUND/);
});
