/**
 * Snapshots and clones through the engine API and the CLI, checked with qemu-io over
 * iSCSI: write A, snapshot, write B; a clone of the snapshot (another LUN of the same
 * target) reads A while the volume reads B; snapshots survive an engine restart.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { assertQemuOk, berth, call, ok, provision, qemuIo, refused, GiB, MiB, type ExportDoc } from './engine_kit.ts';

let engine: EngineProcess;

before(async () => {
  engine = await startEngine();
  await ok(engine.api, 'POST', '/v1/pools', { name: 'pool', sizeBytes: GiB });
});
after(async () => {
  await engine?.stop();
});

interface SnapshotDoc { pool: string; name: string; sourceVolume: string | null; sizeBytes: number; allocatedBytes: number; state: string }

test('a clone of a snapshot, exported as another LUN, reads the data of the snapshot\'s moment', async () => {
  const api = engine.api;
  const ex = (await provision(api, { pool: 'pool', createPool: false, volume: 'vol', volumeBytes: 64 * MiB }))!;
  assertQemuOk(await qemuIo(ex.url, ['write -P 0xa1 0 4M', 'write -P 0xa2 40M 1M', 'flush']), 'write A');
  const snap = await ok<SnapshotDoc>(api, 'POST', '/v1/pools/pool/volumes/vol/snapshots', { name: 'snap1' }, 201);
  assert.deepEqual([snap.pool, snap.name, snap.sourceVolume, snap.sizeBytes, snap.state], ['pool', 'snap1', 'vol', 64 * MiB, 'ready']);
  assert.equal(snap.allocatedBytes, 5 * MiB);
  assertQemuOk(await qemuIo(ex.url, ['write -P 0xb1 0 4M', 'write -P 0xb2 20M 1M', 'flush']), 'write B');

  await ok(api, 'POST', '/v1/pools/pool/volumes', { name: 'restored', fromSnapshot: 'snap1' }, 201);
  const restored = await ok<ExportDoc>(api, 'POST', '/v1/exports', { pool: 'pool', volume: 'restored', targetIqn: ex.targetIqn, allowedInitiators: null });
  assert.equal(restored.lun, 1);
  assert.equal(restored.targetIqn, ex.targetIqn);
  assertQemuOk(await qemuIo(restored.url, ['read -P 0xa1 0 4M', 'read -P 0xa2 40M 1M', 'read -P 0 20M 1M']), 'clone reads A');
  assertQemuOk(await qemuIo(ex.url, ['read -P 0xb1 0 4M', 'read -P 0xa2 40M 1M', 'read -P 0xb2 20M 1M']), 'volume reads B');
  const wrong = await qemuIo(restored.url, ['read -P 0xb1 0 4M']);
  assert.match(wrong.stdout + wrong.stderr, /Pattern verification failed/, 'the check can fail');

  // The clone is a volume of its own: writing it changes neither the snapshot nor the source.
  assertQemuOk(await qemuIo(restored.url, ['write -P 0xc1 0 1M', 'flush']), 'write clone');
  await ok(api, 'POST', '/v1/pools/pool/volumes', { name: 'again', fromSnapshot: 'snap1', sizeBytes: 128 * MiB, thin: false }, 201);
  const again = await ok<ExportDoc>(api, 'POST', '/v1/exports', { pool: 'pool', volume: 'again', targetIqn: ex.targetIqn, allowedInitiators: null });
  assertQemuOk(await qemuIo(again.url, ['read -P 0xa1 0 4M', 'read -P 0 100M 1M']), 'second clone, larger');

  // A clone straight from the live volume.
  await ok(api, 'POST', '/v1/pools/pool/volumes', { name: 'copy', fromVolume: 'vol' }, 201);
  const copy = await ok<ExportDoc>(api, 'POST', '/v1/exports', { pool: 'pool', volume: 'copy', allowedInitiators: null });
  assertQemuOk(await qemuIo(copy.url, ['read -P 0xb1 0 4M', 'read -P 0xb2 20M 1M']), 'volume clone reads B');
});

test('snapshot API: listing, errors, delete rules, and survival across an engine restart', async () => {
  const api = engine.api;
  await ok(api, 'POST', '/v1/pools/pool/volumes', { name: 'src', sizeBytes: 8 * MiB }, 201);
  await ok(api, 'POST', '/v1/pools/pool/volumes/src/snapshots', { name: 'k1' }, 201);
  await refused(api, 'POST', '/v1/pools/pool/volumes/src/snapshots', { name: 'k1' }, 409, 'SNAPSHOT_EXISTS');
  await refused(api, 'POST', '/v1/pools/pool/volumes/nope/snapshots', { name: 'k2' }, 404, 'VOLUME_NOT_FOUND');
  await refused(api, 'POST', '/v1/pools/pool/volumes/src/snapshots', { name: '../x' }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/pools/pool/volumes', { name: 'x', fromSnapshot: 'nope' }, 404, 'SNAPSHOT_NOT_FOUND');
  await refused(api, 'POST', '/v1/pools/pool/volumes', { name: 'x', fromSnapshot: 'k1', sizeBytes: MiB }, 400, 'INVALID_SIZE');
  await refused(api, 'POST', '/v1/pools/pool/volumes', { name: 'x', fromSnapshot: 'k1', fromVolume: 'src' }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/pools/pool/volumes', { name: 'x' }, 400, 'INVALID_ARGUMENT');
  await refused(api, 'POST', '/v1/pools/pool/volumes', { name: 'x', fromSnapshot: 'k1', blockSize: 4096 }, 400, 'INVALID_ARGUMENT');
  const listed = await ok<{ snapshots: SnapshotDoc[] }>(api, 'GET', '/v1/pools/pool/volumes/src/snapshots');
  assert.deepEqual(listed.snapshots.map((s) => s.name), ['k1']);
  // Deleting the volume keeps its snapshot, which still restores.
  await ok(api, 'DELETE', '/v1/pools/pool/volumes/src', undefined, 204);
  const orphan = await ok<SnapshotDoc>(api, 'GET', '/v1/pools/pool/snapshots/k1');
  assert.equal(orphan.sourceVolume, null);

  await engine.restart();
  const all = await ok<{ snapshots: SnapshotDoc[] }>(engine.api, 'GET', '/v1/pools/pool/snapshots');
  assert.ok(all.snapshots.some((s) => s.name === 'k1' && s.state === 'ready'));
  assert.ok(all.snapshots.some((s) => s.name === 'snap1'), 'the first test\'s snapshot is still there');
  await ok(engine.api, 'DELETE', '/v1/pools/pool/snapshots/k1', undefined, 204);
  const gone = await call(engine.api, 'GET', '/v1/pools/pool/snapshots/k1');
  assert.equal(gone.status, 404);
});

test('berth snapshot create|list|delete and volume create --from-snapshot', async () => {
  const api = engine.api;
  await ok(api, 'POST', '/v1/pools/pool/volumes', { name: 'cli', sizeBytes: 4 * MiB }, 201);
  const made = await berth(api, ['snapshot', 'create', 'pool/cli', 'cs1']);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /cs1/);
  const list = await berth(api, ['-o', 'json', 'snapshot', 'list', 'pool/cli']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { snapshots: SnapshotDoc[] }).snapshots.map((s) => s.name), ['cs1']);
  const table = await berth(api, ['snapshot', 'list']);
  assert.match(table.stdout, /cs1/);
  const restored = await berth(api, ['volume', 'create', 'pool/cli-restored', '--from-snapshot', 'cs1']);
  assert.equal(restored.code, 0, restored.stderr);
  const v = await ok<{ sizeBytes: number }>(api, 'GET', '/v1/pools/pool/volumes/cli-restored');
  assert.equal(v.sizeBytes, 4 * MiB);
  const noSize = await berth(api, ['volume', 'create', 'pool/blank']);
  assert.notEqual(noSize.code, 0);
  assert.match(noSize.stderr, /--size is required/);
  const del = await berth(api, ['snapshot', 'delete', 'pool/cs1']);
  assert.equal(del.code, 0, del.stderr);
  const missing = await berth(api, ['snapshot', 'delete', 'pool/cs1']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /SNAPSHOT_NOT_FOUND/);
});
