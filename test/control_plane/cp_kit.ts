/** Shared steps of the control-plane suites: an engine registered with a control plane, a pool on it. */
import assert from 'node:assert/strict';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { waitFor } from '../helpers/tools.ts';
import { cp } from './control_plane_process.ts';

export const MiB = 1024 * 1024;
export const INITIATOR = 'iqn.2026-11.io.berth.test:node-a';

export async function registeredEngine(controlPlanes: string[], nodeId: string, labels = `zone=z1,storageGroup=r1,media=ssd,initiatorIqn=${INITIATOR}`): Promise<EngineProcess> {
  const engine = await startEngine({ args: ['--control-plane', controlPlanes.join(','), '--node-id', nodeId, '--labels', labels] });
  return engine;
}

/** Waits until the control plane at `url` sees the node online. */
export async function nodeOnline(url: string, nodeId: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(`node ${nodeId} online at ${url}`, async () => {
    const r = await cp<{ state?: { status?: string } }>(url, 'GET', `/v1/nodes/${encodeURIComponent(nodeId)}`).catch(() => undefined);
    return r?.status === 200 && r.body.state?.status === 'online' ? true : undefined;
  }, timeoutMs, 200);
}

/** Creates a pool through the control plane and waits until a heartbeat reports it online. */
export async function poolOnline(url: string, nodeId: string, name: string, sizeBytes: number): Promise<string> {
  const made = await cp<{ id: string }>(url, 'POST', '/v1/pools', { nodeId, name, sizeBytes });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await waitFor(`pool ${made.body.id} online`, async () => {
    const r = await cp<{ status: string; capacityBytes: number }>(url, 'GET', `/v1/pools/${encodeURIComponent(made.body.id)}`);
    return r.body.status === 'online' && r.body.capacityBytes > 0 ? true : undefined;
  }, 15_000, 200);
  return made.body.id;
}

export interface EngineVolume {
  name: string;
  sizeBytes: number;
}

export async function engineVolumes(engine: EngineProcess, pool: string): Promise<EngineVolume[]> {
  const res = await fetch(`${engine.api}/v1/pools/${pool}/volumes`);
  return ((await res.json()) as { volumes: EngineVolume[] }).volumes;
}
