/**
 * The replicated flow, with real processes: a control plane (short node-loss
 * timings), three engines in three zones, and two CSI plugins (user-space attach) for
 * two nodes. CreateVolume (2 replicas, ext4) → ControllerPublish → NodeStage →
 * NodePublish → write files → SIGKILL the engine of the replica the nexus does not run
 * on → keep writing → unpublish/unstage → publish and stage on another node → files
 * intact. Meanwhile the control plane replaces the lost replica and the nexus rebuilds it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { EngineProcess } from '../helpers/engine_process.ts';
import { waitFor } from '../helpers/tools.ts';
import { cp, startControlPlane, type ControlPlaneProcess } from '../control_plane/control_plane_process.ts';
import { INITIATOR, MiB, nodeOnline, poolOnline, registeredEngine } from '../control_plane/cp_kit.ts';
import { startCsiPlugin, type CsiProcess } from './csi_process.ts';
import { clearLeftovers, kubeletPaths, leftovers } from './csi_e2e_kit.ts';

const NODES = ['csi-a', 'csi-b', 'csi-c'];
const POD_UID = '3f1c2a9e-5b7d-4c1e-9a0b-e2e000000002';
const cap = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const initiatorOf = (node: string): string => `${INITIATOR}-${node}`;

interface CpVolume { id: string; status: string; replicaStates: { nodeId: string; status: string }[] }

let dir = '';
let plane: ControlPlaneProcess | undefined;
const engines = new Map<string, EngineProcess>();
const plugins: CsiProcess[] = [];

after(async () => {
  for (const p of plugins) await p.stop();
  if (dir !== '') await clearLeftovers(dir);
  for (const e of engines.values()) await e.stop();
  await plane?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function plugin(nodeId: string, mode: 'all' | 'node'): Promise<CsiProcess> {
  const p = await startCsiPlugin(join(dir, `${nodeId}.sock`), [
    '--mode', mode, '--node-id', nodeId, '--state-dir', join(dir, `state-${nodeId}`), '--attacher', 'userspace',
    '--initiator-name', initiatorOf(nodeId), '--control-plane', (plane as ControlPlaneProcess).url,
  ]);
  plugins.push(p);
  return p;
}

test('a 2-replica ext4 volume keeps its files through the loss of a replica node and a move to another node', { timeout: 240_000 }, async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-csi-repl-'));
  plane = await startControlPlane({
    store: `sqlite:${join(dir, 'control.db')}`,
    args: ['--heartbeat-deadline-ms', '6000', '--node-loss-grace-ms', '1000'],
  });
  for (const n of NODES) {
    engines.set(n, await registeredEngine([plane.url], n, `zone=z-${n},storageGroup=r1,media=ssd,initiatorIqn=${initiatorOf(n)}`));
    await nodeOnline(plane.url, n);
    await poolOnline(plane.url, n, 'p1', 128 * MiB);
  }
  const controller = await plugin('csi-controller', 'all');
  const created = await controller.client.call('Controller', 'CreateVolume', {
    name: 'pvc-repl', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: [cap],
    parameters: { replicas: '2', fsType: 'ext4', spreadStrict: 'true' },
  });
  const volumeId: string = created.volume.volume_id;
  const holders = (await cp<CpVolume>(plane.url, 'GET', `/v1/volumes/${volumeId}`)).body.replicaStates.map((r) => r.nodeId);
  const [first, victim] = holders;
  const other = NODES.find((n) => !holders.includes(n)) as string;
  const nodeA = await plugin(first, 'node');
  const nodeC = await plugin(other, 'node');

  // Published to a node holding a replica: the nexus runs there, so the victim is a remote replica.
  const pub = await controller.client.call('Controller', 'ControllerPublishVolume', { volume_id: volumeId, node_id: first, volume_capability: cap, readonly: false });
  assert.equal(pub.publish_context.targetPortal, `127.0.0.1:${(engines.get(first) as EngineProcess).iscsi.port}`);
  const a = await kubeletPaths(join(dir, first), 'pvc-repl', POD_UID);
  const stageA = { volume_id: volumeId, staging_target_path: a.staging, volume_capability: cap, publish_context: pub.publish_context, volume_context: created.volume.volume_context };
  await nodeA.client.call('Node', 'NodeStageVolume', stageA);
  await nodeA.client.call('Node', 'NodePublishVolume', { ...stageA, target_path: a.target, readonly: false });
  const before = Buffer.alloc(2 * MiB, 'before the loss ');
  await writeFile(join(a.target, 'before.bin'), before, { flush: true });

  await (engines.get(victim) as EngineProcess).kill();
  const during = Buffer.alloc(2 * MiB, 'while a replica is gone ');
  await writeFile(join(a.target, 'during.bin'), during, { flush: true });
  await writeFile(join(a.target, 'note.txt'), 'still writing\n', { flush: true });

  const healed = await waitFor('the lost replica replaced and rebuilt', async () => {
    const v = (await cp<CpVolume>(plane!.url, 'GET', `/v1/volumes/${volumeId}`)).body;
    return v.status === 'online' && v.replicaStates.some((r) => r.nodeId === other && r.status === 'online') ? v : undefined;
  }, 120_000, 500);
  assert.equal(healed.replicaStates.find((r) => r.nodeId === victim)?.status, 'faulted');
  const after = Buffer.alloc(1 * MiB, 'after the rebuild ');
  await writeFile(join(a.target, 'after.bin'), after, { flush: true });

  await nodeA.client.call('Node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: a.target });
  await nodeA.client.call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: a.staging });
  await controller.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: volumeId, node_id: first });

  const pubC = await controller.client.call('Controller', 'ControllerPublishVolume', { volume_id: volumeId, node_id: other, volume_capability: cap, readonly: false });
  assert.equal(pubC.publish_context.targetPortal, `127.0.0.1:${(engines.get(other) as EngineProcess).iscsi.port}`, 'the rebuilt replica now fronts the volume');
  const c = await kubeletPaths(join(dir, other), 'pvc-repl', POD_UID);
  await nodeC.client.call('Node', 'NodeStageVolume', { ...stageA, staging_target_path: c.staging, publish_context: pubC.publish_context });
  assert.ok(before.equals(await readFile(join(c.staging, 'before.bin'))), 'written before the loss');
  assert.ok(during.equals(await readFile(join(c.staging, 'during.bin'))), 'written while degraded');
  assert.ok(after.equals(await readFile(join(c.staging, 'after.bin'))), 'written after the rebuild');
  assert.equal(await readFile(join(c.staging, 'note.txt'), 'utf8'), 'still writing\n');
  const nexus = await cp<{ generation: number }>(plane.url, 'GET', `/v1/nexuses/${volumeId}`);
  assert.equal(nexus.body.generation, 2, 'the second incarnation');

  await nodeC.client.call('Node', 'NodeUnstageVolume', { volume_id: volumeId, staging_target_path: c.staging });
  await controller.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: volumeId, node_id: other });
  await controller.client.call('Controller', 'DeleteVolume', { volume_id: volumeId });
  assert.deepEqual(await leftovers(dir), { mounts: [], loops: [], processes: [] });
});
