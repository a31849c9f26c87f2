/**
 * Snapshots and restores through the control plane, cut by a real engine: write A,
 * snapshot, write B; a volume restored from the snapshot reads A (qemu-io over iSCSI,
 * exported straight from the engine), the source reads B; the snapshot outlives its
 * volume and its delete removes the engine's copy.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { freePort } from '../helpers/tools.ts';
import { assertQemuOk, ok, qemuIo, type ExportDoc } from '../engine/engine_kit.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { MiB, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';

interface Volume { id: string; sizeBytes: number; sourceSnapshotId?: string; replicaStates: { id: string; poolId: string }[] }
interface Snapshot { id: string; volumeId: string; replicaSnapshots: { replicaId: string; poolId: string }[] }

const dir = mkdtempSync(join(tmpdir(), 'berth-cp-snap-'));
let plane: ControlPlaneProcess | undefined;
let engine: EngineProcess | undefined;

before(async () => {
  plane = await startControlPlane({ store: `sqlite:${join(dir, 'control.db')}`, port: await freePort() });
  engine = await registeredEngine([plane.url], 'node-a');
  await nodeOnline(plane.url, 'node-a');
  await poolOnline(plane.url, 'node-a', 'p1', 256 * MiB);
});

after(async () => {
  await plane?.stop();
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Exports a replica straight from the engine (no publish needed to reach its data). */
async function exportReplica(replicaId: string): Promise<ExportDoc> {
  return ok<ExportDoc>(engine!.api, 'POST', '/v1/exports', { pool: 'p1', volume: replicaId, allowedInitiators: null });
}

test('snapshot, restore, delete: the restored volume holds the data of the snapshot\'s moment', async () => {
  const url = plane!.url;
  const made = await cp<Volume>(url, 'POST', '/v1/volumes', { name: 'pvc-src', sizeBytes: 32 * MiB });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const srcReplica = made.body.replicaStates[0].id;
  const srcExport = await exportReplica(srcReplica);
  assertQemuOk(await qemuIo(srcExport.url, ['write -P 0x3a 0 2M', 'flush']), 'write A');

  const snap = await cp<Snapshot>(url, 'POST', '/v1/snapshots', { name: 'snap-a', volumeId: made.body.id });
  assert.equal(snap.status, 201, JSON.stringify(snap.body));
  assert.deepEqual(snap.body.replicaSnapshots.map((c) => c.replicaId), [srcReplica]);
  const again = await cp<Snapshot>(url, 'POST', '/v1/snapshots', { name: 'snap-a', volumeId: made.body.id });
  assert.equal(again.status, 200, 'same name, same volume: the same snapshot');
  const onEngine = await ok<{ snapshots: { name: string; sourceVolume: string }[] }>(engine!.api, 'GET', '/v1/pools/p1/snapshots');
  assert.deepEqual(onEngine.snapshots.map((s) => [s.name, s.sourceVolume]), [[snap.body.id, srcReplica]]);
  assertQemuOk(await qemuIo(srcExport.url, ['write -P 0x3b 0 2M', 'flush']), 'write B');

  const restored = await cp<Volume>(url, 'POST', '/v1/volumes', { name: 'pvc-restored', sizeBytes: 32 * MiB, sourceSnapshotId: snap.body.id });
  assert.equal(restored.status, 201, JSON.stringify(restored.body));
  assert.equal(restored.body.sourceSnapshotId, snap.body.id);
  const resExport = await exportReplica(restored.body.replicaStates[0].id);
  assertQemuOk(await qemuIo(resExport.url, ['read -P 0x3a 0 2M', 'read -P 0 2M 1M']), 'restored reads A');
  assertQemuOk(await qemuIo(srcExport.url, ['read -P 0x3b 0 2M']), 'source reads B');

  const small = await cp<{ error: { code: string } }>(url, 'POST', '/v1/volumes', { name: 'pvc-small', sizeBytes: 16 * MiB, sourceSnapshotId: snap.body.id });
  assert.equal(small.body.error.code, 'INVALID_ARGUMENT');
  // A 2-replica restore seeds one replica in the copy's pool and places a blank one in
  // another pool, to be rebuilt from it; this engine has only the one pool.
  const two = await cp<{ error: { code: string } }>(url, 'POST', '/v1/volumes', { name: 'pvc-two', sizeBytes: 32 * MiB, replicas: 2, sourceSnapshotId: snap.body.id });
  assert.equal(two.body.error.code, 'PLACEMENT_FAILED', JSON.stringify(two.body));
  const none = await cp<{ error: { code: string } }>(url, 'POST', '/v1/volumes', { name: 'pvc-none', sizeBytes: 32 * MiB, sourceSnapshotId: 's-nope' });
  assert.equal(none.body.error.code, 'SNAPSHOT_NOT_FOUND');

  // The snapshot outlives its volume; deleting it removes the engine's copy.
  await ok(engine!.api, 'DELETE', `/v1/exports/p1/${srcReplica}`, undefined, 204);
  assert.equal((await cp(url, 'DELETE', `/v1/volumes/${made.body.id}`)).status, 204);
  assert.equal((await cp(url, 'GET', `/v1/snapshots/${snap.body.id}`)).status, 200);
  assert.equal((await cp(url, 'DELETE', `/v1/snapshots/${snap.body.id}`)).status, 204);
  const left = await ok<{ snapshots: unknown[] }>(engine!.api, 'GET', '/v1/pools/p1/snapshots');
  assert.deepEqual(left.snapshots, []);
  assert.equal((await cp(url, 'GET', `/v1/snapshots/${snap.body.id}`)).status, 404);
});
