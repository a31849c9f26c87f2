/**
 * Copy-on-write through a real engine: a snapshot of written data holds nothing of its
 * own until the volume overwrites it (exclusiveBytes in the API, EXCLUSIVE in the CLI),
 * and `berth pool verify` / GET /v1/pools/:pool/verify report the pool's reference
 * counts consistent, exiting 0.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { assertQemuOk, berth, ok, provision, qemuIo, GiB, MiB } from './engine_kit.ts';

let engine: EngineProcess;

before(async () => {
  engine = await startEngine();
});
after(async () => {
  await engine?.stop();
});

interface SnapshotDoc { name: string; allocatedBytes: number; exclusiveBytes: number }
interface VerifyDoc { ownedExtents: number; sharedExtents: number; partialExtents: number; problems: string[] }

test('snapshot space: nothing of its own until overwritten; pool verify finds no problem', async () => {
  const api = engine.api;
  const ex = (await provision(api, { pool: 'cow', poolBytes: GiB, volume: 'vol', volumeBytes: 64 * MiB }))!;
  assertQemuOk(await qemuIo(ex.url, ['write -P 0xa1 0 8M', 'flush']), 'write A');
  const snap = await ok<SnapshotDoc>(api, 'POST', '/v1/pools/cow/volumes/vol/snapshots', { name: 's1' }, 201);
  assert.equal(snap.allocatedBytes, 8 * MiB);
  assert.equal(snap.exclusiveBytes, 0, 'a fresh snapshot shares every extent');
  // Overwrite 2 MiB whole, and 4 KiB of another extent.
  assertQemuOk(await qemuIo(ex.url, ['write -P 0xb1 0 2M', 'write -P 0xb2 5M 4k', 'flush']), 'write B');
  const after = await ok<SnapshotDoc>(api, 'GET', '/v1/pools/cow/snapshots/s1');
  assert.equal(after.exclusiveBytes, 2 * MiB + 4096);
  const metrics = await (await fetch(`${api}/metrics`)).text();
  assert.match(metrics, new RegExp(`^berth_snapshot_exclusive_bytes\\{pool="cow",snapshot="s1"\\} ${2 * MiB + 4096}$`, 'm'));
  const table = await berth(api, ['snapshot', 'list', 'cow/vol']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /EXCLUSIVE/);
  assert.match(table.stdout, /s1 .*8 MiB .*2.0 MiB/);
  const rest = await ok<VerifyDoc>(api, 'GET', '/v1/pools/cow/verify');
  assert.deepEqual(rest.problems, []);
  assert.equal(rest.sharedExtents, 6, 'five extents untouched, and the base of the one written in part');
  assert.equal(rest.partialExtents, 1);
  const cli = await berth(api, ['pool', 'verify', 'cow']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /problems\s.*none/);
  const json = await berth(api, ['-o', 'json', 'pool', 'verify', 'cow', '--read-free']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual((JSON.parse(json.stdout) as VerifyDoc).problems, []);
  const missing = await berth(api, ['pool', 'verify', 'nope']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /^error: POOL_NOT_FOUND: /m);
});

test('berth pool verify exits non-zero and prints the problems an engine reports', async () => {
  // An engine whose pool is inconsistent, as far as the CLI can tell: only the answer matters.
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/v1/pools/bad/verify' ? {
      ownedExtents: 3, sharedExtents: 1, partialExtents: 0, reservedExtents: 0, freeExtents: 5, allocatedBytes: 0,
      problems: ['extent 7 has reference count 1, but 2 references exist'],
    } : {}));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await berth(url, ['pool', 'verify', 'bad']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /extent 7 has reference count 1, but 2 references exist/);
    assert.match(r.stderr, /^error: POOL_CORRUPT: pool bad: 1 problem\(s\) found/m);
  } finally {
    server.close();
  }
});
