/**
 * A highly available control plane: three etcd members, two control-plane processes,
 * one engine heartbeating to both. The leader is killed (SIGKILL) in the middle of
 * provisioning — after the replica exists on the engine, before the commit — and the
 * other instance takes over, finishes the volume, and the engine holds it exactly once.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { waitFor } from '../helpers/tools.ts';
import { startEtcdCluster, type EtcdCluster } from '../control/etcd_process.ts';
import { volumeIdFor } from '../../src/control/service/service_records.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { MiB, engineVolumes, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';

interface Volume {
  id: string;
  lifecycle: string;
  pending: string | null;
  replicaStates: { id: string }[];
}

let cluster: EtcdCluster | undefined;
const planes: ControlPlaneProcess[] = [];
let engine: EngineProcess | undefined;

after(async () => {
  for (const p of planes) await p.kill();
  await engine?.stop();
  await cluster?.stop();
});

test('leader killed mid-provisioning: the follower takes over and the volume is created exactly once', { timeout: 120_000 }, async () => {
  cluster = await startEtcdCluster(3);
  const store = `etcd:${cluster.endpoints.join(',')}`;
  const args = ['--election-ttl-s', '2'];
  // The first instance pauses after creating the replica, so the test can kill it right there.
  const a = await startControlPlane({ store, args, env: { BERTH_TEST_FAULT: 'volume-create:after-engine=pause:60000' } });
  planes.push(a);
  await a.waitForLog('leadership acquired');
  const b = await startControlPlane({ store, args });
  planes.push(b);

  engine = await registeredEngine([a.url, b.url], 'node-a');
  await nodeOnline(a.url, 'node-a');
  await nodeOnline(b.url, 'node-a');
  await poolOnline(a.url, 'node-a', 'p1', 128 * MiB);

  const refused = await cp<{ error: { code: string; leader?: string } }>(b.url, 'POST', '/v1/volumes', { name: 'pvc-ha', sizeBytes: 16 * MiB });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error.code, 'NOT_LEADER');
  assert.equal(refused.body.error.leader, a.url);
  assert.equal(refused.headers.get('x-berth-leader'), a.url);

  const inFlight = cp(a.url, 'POST', '/v1/volumes', { name: 'pvc-ha', sizeBytes: 16 * MiB }).then(() => 'answered', () => 'cut off');
  const made = await waitFor('replica on the engine', async () => {
    const vols = (await engineVolumes(engine as EngineProcess, 'p1')).filter((v) => v.name.startsWith('r-'));
    return vols.length > 0 ? vols : undefined;
  }, 20_000, 100);
  assert.equal(made.length, 1);
  await a.kill();
  assert.equal(await inFlight, 'cut off', 'the leader died before answering');

  await b.waitForLog('leadership acquired', 30_000);
  const id = volumeIdFor('pvc-ha');
  const done = await waitFor('volume committed by the new leader', async () => {
    const r = await cp<Volume>(b.url, 'GET', `/v1/volumes/${id}`);
    return r.status === 200 && r.body.pending === null && r.body.lifecycle === 'created' ? r.body : undefined;
  }, 30_000, 250);
  assert.deepEqual(done.replicaStates.map((r) => r.id), [made[0].name], 'the replica the old leader made is the one kept');
  const onEngine = (await engineVolumes(engine as EngineProcess, 'p1')).filter((v) => v.name.startsWith('r-'));
  assert.deepEqual(onEngine.map((v) => v.name), [made[0].name], 'exactly one replica on the engine');

  const retried = await cp<Volume>(b.url, 'POST', '/v1/volumes', { name: 'pvc-ha', sizeBytes: 16 * MiB });
  assert.equal(retried.status, 200);
  assert.equal(retried.body.id, id);
  const second = await cp<Volume>(b.url, 'POST', '/v1/volumes', { name: 'pvc-ha-2', sizeBytes: 16 * MiB });
  assert.equal(second.status, 201, 'the new leader accepts writes');
});
