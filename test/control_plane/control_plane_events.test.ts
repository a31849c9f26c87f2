/**
 * The event log with real processes: a control plane and two engines in two zones, a
 * 2-replica volume; one engine stopped. The control plane records the node going offline
 * and the volume degraded, with the reason, and serves them over GET /v1/events,
 * filtered by node, volume and type; the log survives a restart of the control plane
 * (it lives in the store); bad query parameters get a 400 naming the parameter.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { waitFor } from '../helpers/tools.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from './control_plane_process.ts';
import { MiB, nodeOnline, poolOnline, registeredEngine } from './cp_kit.ts';

interface Ev { id: string; type: string; reason: string; message: string; severity: string; object: { kind: string; id: string; name?: string }; involved: Record<string, string> }

const dir = mkdtempSync(join(tmpdir(), `berth-cp-events-${process.pid}-`));
let plane: ControlPlaneProcess | undefined;
const engines = new Map<string, EngineProcess>();

after(async () => {
  await plane?.stop();
  for (const e of engines.values()) await e.stop();
  rmSync(dir, { recursive: true, force: true });
});

const events = async (url: string, query: string): Promise<Ev[]> => {
  const r = await cp<{ events: Ev[] }>(url, 'GET', `/v1/events?${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.events;
};

test('a stopped engine: NodeOffline and VolumeDegraded over REST, kept across a control-plane restart', { timeout: 180_000 }, async () => {
  const store = `sqlite:${join(dir, 'control.db')}`;
  const args = ['--heartbeat-deadline-ms', '8000', '--node-loss-grace-ms', '600000'];
  plane = await startControlPlane({ store, args });
  let url = plane.url;
  for (const n of ['ev-a', 'ev-b']) {
    engines.set(n, await registeredEngine([url], n, `zone=z-${n},storageGroup=r1`));
    await nodeOnline(url, n);
    await poolOnline(url, n, 'p', 64 * MiB);
  }
  const made = await cp<{ id: string }>(url, 'POST', '/v1/volumes', { name: 'pvc-events', sizeBytes: 8 * MiB, replicas: 2 });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const volumeId = made.body.id;
  const created = await waitFor('VolumeCreated event', async () => (await events(url, `volume=${volumeId}&type=VolumeCreated`))[0], 30_000, 250);
  assert.match(created.message, /^volume pvc-events created with 2 of 2 replicas/);

  await engines.get('ev-b')!.stop();
  engines.delete('ev-b');
  const offline = await waitFor('NodeOffline event', async () => (await events(url, 'node=ev-b&type=NodeOffline'))[0], 60_000, 250);
  assert.equal(offline.reason, 'HeartbeatMissed');
  assert.equal(offline.severity, 'warning');
  assert.deepEqual(offline.object, { kind: 'node', id: 'ev-b' });
  const degraded = await waitFor('VolumeDegraded event', async () => (await events(url, `volume=${volumeId}&type=VolumeDegraded`))[0], 30_000, 250);
  assert.match(degraded.message, /^volume pvc-events is degraded: 1 of 2 replicas online; \S+ missing$/);

  // Newest first; the node filter leaves out the volume's own events.
  const forVolume = await events(url, `volume=${volumeId}`);
  assert.deepEqual(forVolume.map((e) => e.type).slice(0, 2), ['VolumeDegraded', 'VolumeCreated']);
  assert.ok((await events(url, 'node=ev-b')).every((e) => e.involved.nodeId === 'ev-b'));

  const bad = await cp<{ error: { code: string; message: string } }>(url, 'GET', '/v1/events?type=Nope');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'INVALID_ARGUMENT');
  assert.match(bad.body.error.message, /^type: unknown "Nope"/);

  // The log is in the store: a restarted control plane serves it.
  const before = await events(url, 'limit=1000');
  await plane.stop();
  plane = await startControlPlane({ store, args });
  url = plane.url;
  const afterRestart = await events(url, 'limit=1000');
  assert.deepEqual(afterRestart.slice(-before.length).map((e) => e.id), before.map((e) => e.id));
});
