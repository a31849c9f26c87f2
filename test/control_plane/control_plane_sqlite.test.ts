/**
 * The control plane as a process on the SQLite store, driving a real engine process:
 * registration by heartbeat, provisioning through REST, idempotency, placement errors,
 * publish to a node seen by iscsi-ls, pod records, the OpenAPI document, and a
 * kill -9 between "pending" and "commit" finished by the reconciler after a restart.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { freePort, repoRoot, run, waitFor } from '../helpers/tools.ts';
import { volumeIdFor } from '../../src/control/service/service_records.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { INITIATOR, MiB, engineVolumes, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';

interface Volume {
  id: string;
  name: string;
  sizeBytes: number;
  lifecycle: string;
  status: string;
  pending: string | null;
  replicaStates: { id: string; poolId: string; status: string }[];
  target?: { iqn: string; url: string; portal: string };
  pods: { podUid: string; podName: string; podNamespace: string }[];
}
interface ErrorReply {
  error: { code: string; message: string };
}

const dir = mkdtempSync(join(tmpdir(), 'berth-cp-'));
const store = `sqlite:${join(dir, 'control.db')}`;
let port = 0;
let plane: ControlPlaneProcess | undefined;
let engine: EngineProcess | undefined;

before(async () => {
  port = await freePort();
  plane = await startControlPlane({ store, port });
  engine = await registeredEngine([plane.url], 'node-a');
  await nodeOnline(plane.url, 'node-a');
  await poolOnline(plane.url, 'node-a', 'p1', 256 * MiB);
});

after(async () => {
  await plane?.stop();
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const url = (): string => (plane as ControlPlaneProcess).url;

test('an engine registers by heartbeat with its labels and pools', async () => {
  const nodes = await cp<{ nodes: { id: string; zone: string; storageGroup: string; labels: Record<string, string>; state: { status: string } }[] }>(url(), 'GET', '/v1/nodes');
  assert.equal(nodes.status, 200);
  const a = nodes.body.nodes.find((n) => n.id === 'node-a');
  assert.ok(a);
  assert.equal(a.zone, 'z1');
  assert.equal(a.storageGroup, 'r1');
  assert.equal(a.labels.initiatorIqn, INITIATOR);
  assert.equal(a.state.status, 'online');
  const pools = await cp<{ pools: { id: string; media: string; capacityBytes: number }[] }>(url(), 'GET', '/v1/pools');
  assert.deepEqual(pools.body.pools.map((p) => [p.id, p.media]), [['node-a:p1', 'ssd']]);
});

test('a 1-replica volume created through REST exists on the engine; the same request again is the same volume', async () => {
  const first = await cp<Volume>(url(), 'POST', '/v1/volumes', { name: 'pvc-one', sizeBytes: 32 * MiB });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(first.body.lifecycle, 'created');
  assert.equal(first.body.status, 'online');
  assert.equal(first.body.replicaStates.length, 1);
  const replica = first.body.replicaStates[0];
  assert.equal(replica.poolId, 'node-a:p1');
  const onEngine = await engineVolumes(engine as EngineProcess, 'p1');
  assert.deepEqual(onEngine.filter((v) => v.name === replica.id).map((v) => v.sizeBytes), [32 * MiB]);

  const again = await cp<Volume>(url(), 'POST', '/v1/volumes', { name: 'pvc-one', sizeBytes: 32 * MiB });
  assert.equal(again.status, 200);
  assert.equal(again.body.id, first.body.id);
  assert.equal((await engineVolumes(engine as EngineProcess, 'p1')).length, onEngine.length, 'no second replica');

  const other = await cp<ErrorReply>(url(), 'POST', '/v1/volumes', { name: 'pvc-one', sizeBytes: 64 * MiB });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, 'VOLUME_EXISTS');
  assert.match(other.body.error.message, /sizeBytes/);
});

test('a volume that cannot be placed is refused with 422 naming the filter', async () => {
  const big = await cp<ErrorReply>(url(), 'POST', '/v1/volumes', { name: 'pvc-huge', sizeBytes: 1024 * 1024 * MiB });
  assert.equal(big.status, 422);
  assert.equal(big.body.error.code, 'PLACEMENT_FAILED');
  assert.match(big.body.error.message, /min_free_space ruled out 1 pool/);
  const hdd = await cp<ErrorReply>(url(), 'POST', '/v1/volumes', { name: 'pvc-hdd', sizeBytes: 8 * MiB, media: 'hdd' });
  assert.equal(hdd.status, 422);
  assert.match(hdd.body.error.message, /media_type ruled out 1 pool/);
  const two = await cp<ErrorReply>(url(), 'POST', '/v1/volumes', { name: 'pvc-two', sizeBytes: 8 * MiB, replicas: 2 });
  assert.equal(two.status, 422, 'one node cannot hold two replicas');
  const gone = await cp(url(), 'GET', `/v1/volumes/${volumeIdFor('pvc-huge')}`);
  assert.equal(gone.status, 404, 'a refused create leaves nothing behind');
  const bad = await cp<ErrorReply>(url(), 'POST', '/v1/volumes', { name: 'pvc-bad', sizeBytes: 1000 });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'INVALID_ARGUMENT');
});

test('publish exports the volume to the node\'s initiator only; iscsi-ls sees it with that name', async () => {
  const id = volumeIdFor('pvc-one');
  const pub = await cp<Volume>(url(), 'POST', `/v1/volumes/${id}/publish`, { nodeId: 'node-a' });
  assert.equal(pub.status, 200, JSON.stringify(pub.body));
  const target = pub.body.target;
  assert.ok(target);
  assert.match(target.url, /^iscsi:\/\/127\.0\.0\.1:\d+\/iqn\.2026-11\.io\.berth:vol-/);
  const again = await cp<Volume>(url(), 'POST', `/v1/volumes/${id}/publish`, { nodeId: 'node-a' });
  assert.deepEqual(again.body.target, target, 'publishing twice is the same export');

  const ls = await run('iscsi-ls', ['-s', '-i', INITIATOR, `iscsi://${target.portal}`], { check: false });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`Target:${target.iqn.replace(/\./g, '\\.')} `));
  assert.match(ls.stdout, /Lun:0\s+Type:DIRECT_ACCESS \(Size:3[12]M\)/);
  const stranger = await run('iscsi-ls', ['-i', 'iqn.2026-11.io.berth.test:stranger', `iscsi://${target.portal}`], { check: false });
  assert.doesNotMatch(stranger.stdout, new RegExp(target.iqn.replace(/\./g, '\\.')), 'another initiator must not see the target');

  const elsewhere = await cp<ErrorReply>(url(), 'POST', `/v1/volumes/${id}/publish`, { nodeId: 'node-b' });
  assert.equal(elsewhere.status, 404);
  assert.equal(elsewhere.body.error.code, 'NODE_NOT_FOUND');

  const un = await cp<Volume>(url(), 'POST', `/v1/volumes/${id}/unpublish`, {});
  assert.equal(un.status, 200);
  assert.equal(un.body.target, undefined);
  const after = await run('iscsi-ls', ['-i', INITIATOR, `iscsi://${target.portal}`], { check: false });
  assert.doesNotMatch(after.stdout, new RegExp(target.iqn.replace(/\./g, '\\.')));
});

test('pod records from podInfoOnMount are kept and shown with the volume', async () => {
  const id = volumeIdFor('pvc-one');
  const put = await cp(url(), 'PUT', `/v1/volumes/${id}/pods/uid-123`, { podName: 'pg-0', podNamespace: 'db', nodeId: 'node-a' });
  assert.equal(put.status, 200);
  const v = await cp<Volume>(url(), 'GET', `/v1/volumes/${id}`);
  assert.deepEqual(v.body.pods.map((p) => [p.podUid, p.podName, p.podNamespace]), [['uid-123', 'pg-0', 'db']]);
  assert.equal((await cp(url(), 'DELETE', `/v1/volumes/${id}/pods/uid-123`)).status, 204);
  assert.deepEqual((await cp<Volume>(url(), 'GET', `/v1/volumes/${id}`)).body.pods, []);
  const missing = await cp<ErrorReply>(url(), 'PUT', `/v1/volumes/nope/pods/u`, { podName: 'x', podNamespace: 'y' });
  assert.equal(missing.status, 404);
});

test('the served OpenAPI document equals docs/openapi.json', async () => {
  const served = await cp(url(), 'GET', '/v1/openapi.json');
  assert.equal(served.status, 200);
  const file = JSON.parse(readFileSync(join(repoRoot, 'docs', 'openapi.json'), 'utf8')) as unknown;
  assert.deepEqual(served.body, file, 'run: node src/control/api/write_openapi.ts');
});

test('a volume is deleted from the engine and the store; deleting again is not an error', async () => {
  const made = await cp<Volume>(url(), 'POST', '/v1/volumes', { name: 'pvc-del', sizeBytes: 8 * MiB });
  assert.equal(made.status, 201);
  const replica = made.body.replicaStates[0].id;
  assert.equal((await cp(url(), 'DELETE', `/v1/volumes/${made.body.id}`)).status, 204);
  assert.equal((await engineVolumes(engine as EngineProcess, 'p1')).some((v) => v.name === replica), false);
  assert.equal((await cp(url(), 'GET', `/v1/volumes/${made.body.id}`)).status, 404);
  assert.equal((await cp(url(), 'DELETE', `/v1/volumes/${made.body.id}`)).status, 204);
});

/** Restart the control plane on the same port and store, optionally with a test fault armed. */
async function restartPlane(fault?: string): Promise<void> {
  await plane?.stop();
  plane = await startControlPlane({ store, port, env: fault === undefined ? {} : { BERTH_TEST_FAULT: fault } });
  await nodeOnline(plane.url, 'node-a');
}

for (const point of ['volume-create:after-pending', 'volume-create:after-engine']) {
  test(`kill -9 at ${point}: after a restart the reconciler finishes the volume, with one replica`, async () => {
    const name = `pvc-crash-${point.split(':')[1]}`;
    await restartPlane(`${point}=crash`);
    const dying = plane as ControlPlaneProcess;
    await assert.rejects(cp(dying.url, 'POST', '/v1/volumes', { name, sizeBytes: 16 * MiB }));
    await dying.exited;
    await restartPlane();
    const id = volumeIdFor(name);
    const done = await waitFor(`volume ${name} committed`, async () => {
      const r = await cp<Volume>(url(), 'GET', `/v1/volumes/${id}`);
      return r.status === 200 && r.body.pending === null && r.body.lifecycle === 'created' ? r.body : undefined;
    }, 30_000, 250);
    assert.equal(done.replicaStates.length, 1);
    const onEngine = (await engineVolumes(engine as EngineProcess, 'p1')).map((v) => v.name).filter((n) => n.startsWith('r-')).sort();
    const specs = await cp<{ replicas: { id: string }[] }>(url(), 'GET', '/v1/replicas');
    assert.deepEqual(onEngine, specs.body.replicas.map((r) => r.id).sort(), 'every engine replica has a spec: none made twice');
    assert.ok(onEngine.includes(done.replicaStates[0].id));
    const again = await cp<Volume>(url(), 'POST', '/v1/volumes', { name, sizeBytes: 16 * MiB });
    assert.equal(again.status, 200, 'the finished volume answers the retried request');
  });
}
