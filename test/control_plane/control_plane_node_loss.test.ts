/**
 * Node loss with real processes: three engines in three zones, a 2-replica volume, one
 * engine killed (SIGKILL). After the heartbeat deadline and the grace period (shortened
 * by flags) its replica is faulted and a replacement is created on the third engine;
 * when the lost engine returns, its faulted copy is kept while the replacement awaits
 * its rebuild.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { waitFor } from '../helpers/tools.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { MiB, engineVolumes, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';

interface Replica {
  id: string;
  nodeId: string;
  status: string;
  lifecycle: string;
}
interface Volume {
  id: string;
  status: string;
  replicaStates: Replica[];
}

const dir = mkdtempSync(join(tmpdir(), 'berth-cp-loss-'));
let plane: ControlPlaneProcess | undefined;
const engines = new Map<string, EngineProcess>();

after(async () => {
  await plane?.stop();
  for (const e of engines.values()) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a lost node\'s replica is faulted and replaced; its copy is kept until the rebuild', { timeout: 120_000 }, async () => {
  plane = await startControlPlane({
    store: `sqlite:${join(dir, 'control.db')}`,
    args: ['--heartbeat-deadline-ms', '6000', '--node-loss-grace-ms', '2000', '--orphan-min-age-ms', '0', '--orphan-interval-ms', '500'],
  });
  const url = plane.url;
  for (const n of ['n1', 'n2', 'n3']) {
    engines.set(n, await registeredEngine([url], n, `zone=z-${n},storageGroup=r1`));
    await nodeOnline(url, n);
    await poolOnline(url, n, 'p', 64 * MiB);
  }
  const made = await cp<Volume>(url, 'POST', '/v1/volumes', { name: 'pvc-loss', sizeBytes: 8 * MiB, replicas: 2, spread: { domain: 'zone', strict: true } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const used = made.body.replicaStates.map((r) => r.nodeId);
  const victim = used[0];
  const spare = ['n1', 'n2', 'n3'].find((n) => !used.includes(n)) as string;
  const lostReplica = made.body.replicaStates[0].id;

  await (engines.get(victim) as EngineProcess).kill();
  const healed = await waitFor('replacement created on the spare node', async () => {
    const v = await cp<Volume>(url, 'GET', `/v1/volumes/${made.body.id}`);
    const replacement = v.body.replicaStates.find((r) => r.nodeId === spare && r.lifecycle === 'created');
    return replacement !== undefined ? { v: v.body, replacement } : undefined;
  }, 40_000, 250);
  assert.equal(healed.v.replicaStates.find((r) => r.id === lostReplica)?.status, 'faulted');
  assert.equal(healed.replacement.status, 'rebuilding', 'empty until the nexus rebuilds it');
  assert.equal(healed.v.status, 'degraded');
  const onSpare = await engineVolumes(engines.get(spare) as EngineProcess, 'p');
  assert.deepEqual(onSpare.map((v) => v.name), [healed.replacement.id]);

  // The node returns: its faulted copy must survive orphan sweeps while no rebuild has happened.
  await (engines.get(victim) as EngineProcess).restart();
  await nodeOnline(url, victim);
  await new Promise((r) => setTimeout(r, 2000));
  const back = await engineVolumes(engines.get(victim) as EngineProcess, 'p');
  assert.ok(back.some((v) => v.name === lostReplica), 'the faulted copy is kept');
  const again = await cp<Volume>(url, 'GET', `/v1/volumes/${made.body.id}`);
  assert.equal(again.body.replicaStates.length, 3);
});
