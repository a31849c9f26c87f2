/**
 * The issue's replicated flow end to end, each node a network namespace with its own
 * address (csi_netns_kit.ts): a control plane and the CSI controller on a control node,
 * and on three storage nodes an engine and that node's CSI plugin (user-space attach).
 * The test plays the orchestrator over the plugins' sockets:
 *  1. CreateVolume (2 replicas, ext4) → ControllerPublish → NodeStage → NodePublish →
 *     write files → the node of the remote replica fails (engine SIGKILLed, link cut) →
 *     keep writing → the control plane replaces the replica and the nexus rebuilds it →
 *     unpublish/unstage → publish and stage with the plugin of another node → files intact.
 *  2. CreateSnapshot, then restore it and clone the live volume into 2-replica volumes:
 *     their files are the snapshot's (or the source's), and once the seeded replica has
 *     rebuilt the blank one both replicas hold the same bytes (qemu-img compare).
 *  3. A 2-replica xfs volume grows while published: every replica and the live nexus
 *     (a new incarnation) grow, and the filesystem grows online.
 *  4. Everything deleted; no process (by PID), namespace, mount, loop device, engine
 *     volume, snapshot or pool space left behind.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/tools.ts';
import { cp } from '../control_plane/control_plane_process.ts';
import { MiB, nodeOnline, poolOnline } from '../control_plane/cp_kit.ts';
import { NsCsiCluster, namespacesOf, type NsCsi, type NsEngine } from './csi_netns_kit.ts';
import { clearLeftovers, engineSnapshots, kubeletPaths, leftovers, NOTHING_LEFT } from './csi_e2e_kit.ts';
import { nsRun } from '../helpers/netns.ts';

const NODES = ['csi-a', 'csi-b', 'csi-c'];
const POOL = 'p1';
const POOL_BYTES = 1024 * MiB;
const POD_UID = '3f1c2a9e-5b7d-4c1e-9a0b-e2e000000002';
const ext4 = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const xfs = { mount: { fs_type: 'xfs', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const replicated = (fsType: string): Record<string, string> => ({ replicas: '2', fsType, spreadStrict: 'true' });

interface CpReplica { id: string; poolId: string; nodeId: string; status: string }
interface CpVolume { id: string; status: string; sizeBytes: number; replicaStates: CpReplica[] }
interface CsiVolume { volume_id: string; volume_context: Record<string, string> }
interface Attached { node: NsCsi; volumeId: string; staging: string; target: string; portal: string }

let kit: NsCsiCluster | undefined;
const k = (): NsCsiCluster => kit as NsCsiCluster;
const nodePlugins = new Map<string, NsCsi>();
let controller: NsCsi;
let source: CsiVolume;
let first = '';
let victim = '';
let other = '';

async function volume(id: string): Promise<CpVolume> {
  return (await cp<CpVolume>(k().controlUrl, 'GET', `/v1/volumes/${id}`)).body;
}

async function engineApi<T>(e: NsEngine, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${e.api}${path}`, {
    method, headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok && res.status !== 404) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text.length > 0 ? JSON.parse(text) : undefined) as T;
}

const poolFree = async (e: NsEngine): Promise<number> => (await engineApi<{ freeBytes: number }>(e, 'GET', `/v1/pools/${POOL}`)).freeBytes;
const poolVolumes = async (e: NsEngine): Promise<string[]> =>
  (await engineApi<{ volumes: { name: string }[] }>(e, 'GET', `/v1/pools/${POOL}/volumes`)).volumes.map((v) => v.name);

/** ControllerPublish to `nodeId`, then NodeStage and NodePublish with that node's plugin. */
async function attach(v: CsiVolume, nodeId: string, pvName: string, cap: typeof ext4): Promise<Attached> {
  const node = nodePlugins.get(nodeId) as NsCsi;
  const pub = await controller.client.call('Controller', 'ControllerPublishVolume', { volume_id: v.volume_id, node_id: nodeId, volume_capability: cap, readonly: false });
  const paths = await kubeletPaths(join(k().dir, nodeId), pvName, POD_UID);
  const stage = { volume_id: v.volume_id, staging_target_path: paths.staging, volume_capability: cap, publish_context: pub.publish_context, volume_context: v.volume_context };
  await node.client.call('Node', 'NodeStageVolume', stage);
  await node.client.call('Node', 'NodePublishVolume', { ...stage, target_path: paths.target, readonly: false });
  return { node, volumeId: v.volume_id, ...paths, portal: pub.publish_context.targetPortal };
}

async function detach(a: Attached): Promise<void> {
  await a.node.client.call('Node', 'NodeUnpublishVolume', { volume_id: a.volumeId, target_path: a.target });
  await a.node.client.call('Node', 'NodeUnstageVolume', { volume_id: a.volumeId, staging_target_path: a.staging });
  await controller.client.call('Controller', 'ControllerUnpublishVolume', { volume_id: a.volumeId, node_id: a.node.nodeId });
}

/** The one user-space initiator (qemu-storage-daemon) runs in `nodeId`'s network namespace. */
async function assertInitiatorIn(nodeId: string): Promise<void> {
  const daemons = (await leftovers(k().dir)).processes.map((p) => Number(p.split(' ')[0]));
  assert.equal(daemons.length, 1, 'one initiator');
  const [inProcess, ofNode] = await Promise.all([stat(`/proc/${daemons[0]}/ns/net`), stat(`/run/netns/${k().nodeOf(nodeId).ns}`)]);
  assert.equal(inProcess.ino, ofNode.ino, `the initiator runs in ${nodeId}'s namespace`);
}

const allOnline = async (id: string, what: string): Promise<CpVolume> => await waitFor(what, async () => {
  const v = await volume(id);
  return v.status === 'online' && v.replicaStates.filter((r) => r.status === 'online').length === 2 ? v : undefined;
}, 120_000, 500);

/**
 * Exports each replica of an unpublished volume straight from its engine and compares
 * their bytes with qemu-img from the control node (exit 0: identical).
 */
async function assertReplicasEqual(id: string): Promise<void> {
  const replicas = (await volume(id)).replicaStates;
  assert.equal(replicas.length, 2);
  const urls: string[] = [];
  try {
    for (const r of replicas) {
      const e = k().engines.get(r.nodeId) as NsEngine;
      urls.push((await engineApi<{ url: string }>(e, 'POST', '/v1/exports', { pool: POOL, volume: r.id })).url);
    }
    const cmp = await nsRun(k().control.ns, 'qemu-img', ['compare', '-f', 'raw', '-F', 'raw', ...urls], { check: false, timeoutMs: 120_000 });
    assert.equal(cmp.code, 0, `replicas of ${id} differ:\n${cmp.stdout}${cmp.stderr}`);
  } finally {
    for (const r of replicas) await engineApi(k().engines.get(r.nodeId) as NsEngine, 'DELETE', `/v1/exports/${POOL}/${r.id}`).catch(() => undefined);
  }
}

describe('replicated volumes across node namespaces', { timeout: 900_000 }, () => {
  const freeBefore = new Map<string, number>();

  before(async () => {
    kit = await NsCsiCluster.create(NODES, [
      '--heartbeat-deadline-ms', '6000', '--node-loss-grace-ms', '1000', '--orphan-min-age-ms', '2000', '--orphan-interval-ms', '1000',
    ]);
    for (const n of NODES) {
      await nodeOnline(k().controlUrl, n, 60_000);
      await poolOnline(k().controlUrl, n, POOL, POOL_BYTES);
      freeBefore.set(n, await poolFree(k().engines.get(n) as NsEngine));
    }
    controller = await k().startPlugin('csi-controller', 'controller');
    for (const n of NODES) nodePlugins.set(n, await k().startPlugin(n, 'node'));
  });

  after(async () => {
    if (kit === undefined) return;
    for (const p of k().plugins) p.client.close();
    for (const p of k().plugins) await p.proc.stop(15_000);
    await clearLeftovers(k().dir);
    await k().destroy();
  });

  it('keeps a 2-replica ext4 volume\'s files through the loss of a replica node and a move to another node', { timeout: 180_000 }, async () => {
    const created = await controller.client.call('Controller', 'CreateVolume', {
      name: 'pvc-repl', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: [ext4], parameters: replicated('ext4'),
    });
    source = created.volume;
    const holders = (await volume(source.volume_id)).replicaStates.map((r) => r.nodeId);
    [first, victim] = holders;
    other = NODES.find((n) => !holders.includes(n)) as string;

    // Published to a node holding a replica: the nexus runs there, so the victim holds the remote replica.
    const a = await attach(source, first, 'pvc-repl', ext4);
    assert.equal(a.portal, k().engines.get(first)?.portal, 'the target is on the first node\'s own address');
    await assertInitiatorIn(first);
    assert.equal((await volume(source.volume_id)).status, 'online');
    const before = Buffer.alloc(2 * MiB, 'before the loss ');
    await writeFile(join(a.target, 'before.bin'), before, { flush: true });

    await k().failNode(victim);
    const during = Buffer.alloc(2 * MiB, 'while a replica is gone ');
    await writeFile(join(a.target, 'during.bin'), during, { flush: true });
    await writeFile(join(a.target, 'note.txt'), 'still writing\n', { flush: true });

    const healed = await waitFor('the lost replica replaced and rebuilt', async () => {
      const v = await volume(source.volume_id);
      return v.status === 'online' && v.replicaStates.some((r) => r.nodeId === other && r.status === 'online') ? v : undefined;
    }, 120_000, 500);
    assert.equal(healed.replicaStates.find((r) => r.nodeId === victim)?.status, 'faulted');
    const afterRebuild = Buffer.alloc(1 * MiB, 'after the rebuild ');
    await writeFile(join(a.target, 'after.bin'), afterRebuild, { flush: true });
    await detach(a);

    // Staged by the plugin of another node, against the nexus now on that node's address.
    const c = await attach(source, other, 'pvc-repl', ext4);
    assert.equal(c.portal, k().engines.get(other)?.portal);
    await assertInitiatorIn(other);
    const nexus = await cp<{ generation: number; nodeId: string }>(k().controlUrl, 'GET', `/v1/nexuses/${source.volume_id}`);
    assert.equal(nexus.body.nodeId, other, 'the rebuilt replica now fronts the volume');
    assert.equal(nexus.body.generation, 2, 'the second incarnation');
    assert.ok(before.equals(await readFile(join(c.target, 'before.bin'))), 'written before the loss');
    assert.ok(during.equals(await readFile(join(c.target, 'during.bin'))), 'written while degraded');
    assert.ok(afterRebuild.equals(await readFile(join(c.target, 'after.bin'))), 'written after the rebuild');
    assert.equal(await readFile(join(c.target, 'note.txt'), 'utf8'), 'still writing\n');
    await writeFile(join(c.target, 'snapped.txt'), 'in the snapshot\n', { flush: true });
    await detach(c);

    // The failed node returns: its stale copy is an orphan now, removed by the control plane.
    await k().recoverNode(victim);
    await nodeOnline(k().controlUrl, victim, 60_000);
  });

  it('restores a snapshot and clones a volume into 2-replica volumes whose replicas hold the same bytes', { timeout: 180_000 }, async () => {
    const snap = (await controller.client.call('Controller', 'CreateSnapshot', { source_volume_id: source.volume_id, name: 'snap-repl' })).snapshot;
    assert.equal(snap.ready_to_use, true);
    // A write after the snapshot: in the clone (taken later), not in the restore.
    const s = await attach(source, other, 'pvc-repl', ext4);
    await writeFile(join(s.target, 'after-snap.txt'), 'after the snapshot\n', { flush: true });
    await detach(s);

    const restored = (await controller.client.call('Controller', 'CreateVolume', {
      name: 'pvc-repl-restore', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: [ext4], parameters: replicated('ext4'),
      volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
    })).volume as CsiVolume;
    const clone = (await controller.client.call('Controller', 'CreateVolume', {
      name: 'pvc-repl-clone', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: [ext4], parameters: replicated('ext4'),
      volume_content_source: { volume: { volume_id: source.volume_id } },
    })).volume as CsiVolume;

    for (const [v, pv, hasLater] of [[restored, 'pvc-repl-restore', false], [clone, 'pvc-repl-clone', true]] as const) {
      const fresh = await volume(v.volume_id);
      assert.equal(fresh.replicaStates.length, 2, `${pv} has two replicas`);
      assert.equal(new Set(fresh.replicaStates.map((r) => r.nodeId)).size, 2, `${pv}'s replicas sit on two nodes`);
      // The background rebuild (reconcile_background_rebuild.ts) may already have filled the
      // blank copy by now; until it has, exactly one copy is online and the other rebuilding.
      const statuses = fresh.replicaStates.map((r) => r.status).sort();
      assert.ok(['online,rebuilding', 'online,online'].includes(statuses.join()), `${pv}: one seeded copy and one blank being rebuilt, or both in sync (got ${statuses.join()})`);
      const seed = fresh.replicaStates.find((r) => r.status === 'online') as CpReplica;
      const blank = fresh.replicaStates.find((r) => r !== seed) as CpReplica;
      const stillBlank = blank.status === 'rebuilding';
      // Published to the other replica's node: while it is still blank the nexus must run where the data is.
      const a = await attach(v, blank.nodeId, pv, ext4);
      const nexusNode = (await cp<{ nodeId: string }>(k().controlUrl, 'GET', `/v1/nexuses/${v.volume_id}`)).body.nodeId;
      if (stillBlank) assert.equal(nexusNode, seed.nodeId, `${pv}: the nexus runs on the seeded replica's node`);
      else assert.ok([seed.nodeId, blank.nodeId].includes(nexusNode), `${pv}: the nexus runs on a replica's node`);
      assert.equal(await readFile(join(a.target, 'snapped.txt'), 'utf8'), 'in the snapshot\n', `${pv} has the snapshot's files`);
      assert.equal(await readFile(join(a.target, 'note.txt'), 'utf8'), 'still writing\n');
      assert.equal((await readdir(a.target)).includes('after-snap.txt'), hasLater, `${pv}: the write after the snapshot`);
      await allOnline(v.volume_id, `${pv}'s blank replica rebuilt from the seeded one`);
      await detach(a);
      await assertReplicasEqual(v.volume_id);
    }

    for (const v of [restored, clone]) await controller.client.call('Controller', 'DeleteVolume', { volume_id: v.volume_id });
    await controller.client.call('Controller', 'DeleteSnapshot', { snapshot_id: snap.snapshot_id });
  });

  it('grows a published 2-replica xfs volume: every replica, the live nexus and the filesystem', { timeout: 180_000 }, async () => {
    const v = (await controller.client.call('Controller', 'CreateVolume', {
      name: 'pvc-repl-xfs', capacity_range: { required_bytes: 320 * MiB }, volume_capabilities: [xfs], parameters: replicated('xfs'),
    })).volume as CsiVolume;
    const holder = (await volume(v.volume_id)).replicaStates[0].nodeId;
    const a = await attach(v, holder, 'pvc-repl-xfs', xfs);
    await writeFile(join(a.target, 'keep.txt'), 'xfs data\n', { flush: true });
    const total = async (): Promise<number> => Number((await a.node.client.call('Node', 'NodeGetVolumeStats', { volume_id: v.volume_id, volume_path: a.target })).usage[0].total);
    const sizeBefore = await total();
    const genBefore = (await cp<{ generation: number }>(k().controlUrl, 'GET', `/v1/nexuses/${v.volume_id}`)).body.generation;

    const grown = await controller.client.call('Controller', 'ControllerExpandVolume', { volume_id: v.volume_id, capacity_range: { required_bytes: 384 * MiB }, volume_capability: xfs });
    assert.equal(Number(grown.capacity_bytes), 384 * MiB);
    for (const r of (await volume(v.volume_id)).replicaStates) {
      const sizes = await engineApi<{ volumes: { name: string; sizeBytes: number }[] }>(k().engines.get(r.nodeId) as NsEngine, 'GET', `/v1/pools/${POOL}/volumes`);
      assert.equal(sizes.volumes.find((x) => x.name === r.id)?.sizeBytes, 384 * MiB, `replica on ${r.nodeId} grown`);
    }
    const nexus = (await cp<{ generation: number }>(k().controlUrl, 'GET', `/v1/nexuses/${v.volume_id}`)).body;
    assert.equal(nexus.generation, genBefore + 1, 'the nexus grew as a new incarnation');
    const expanded = await a.node.client.call('Node', 'NodeExpandVolume', {
      volume_id: v.volume_id, volume_path: a.target, staging_target_path: a.staging, capacity_range: { required_bytes: 384 * MiB }, volume_capability: xfs,
    });
    assert.equal(Number(expanded.capacity_bytes), 384 * MiB, 'the node sees the grown LUN');
    assert.ok((await total()) >= sizeBefore + 48 * MiB, `the filesystem grew (${sizeBefore} → ${await total()} bytes)`);
    assert.equal(await readFile(join(a.target, 'keep.txt'), 'utf8'), 'xfs data\n');
    await writeFile(join(a.target, 'after-grow.bin'), Buffer.alloc(4 * MiB, 'grown '), { flush: true });
    await detach(a);
    await controller.client.call('Controller', 'DeleteVolume', { volume_id: v.volume_id });
  });

  it('deletes everything and leaves no process, namespace, mount, loop device or pool space behind', { timeout: 180_000 }, async () => {
    await controller.client.call('Controller', 'DeleteVolume', { volume_id: source.volume_id });
    assert.deepEqual((await controller.client.call('Controller', 'ListVolumes', {})).entries, []);
    assert.deepEqual((await controller.client.call('Controller', 'ListSnapshots', {})).entries, []);
    for (const n of NODES) {
      const e = k().engines.get(n) as NsEngine;
      // The failed node's stale copy goes by orphan cleanup, a little after it returned.
      await waitFor(`pool of ${n} back to its free bytes`, async () => ((await poolFree(e)) === freeBefore.get(n) ? true : undefined), 60_000, 500)
        .catch(async (err: Error) => { throw new Error(`${err.message}: volumes ${JSON.stringify(await poolVolumes(e))}`); });
      assert.deepEqual(await poolVolumes(e), [], `no volume left on ${n}`);
      assert.deepEqual(await engineSnapshots({ api: e.api } as Parameters<typeof engineSnapshots>[0], POOL), [], `no snapshot left on ${n}`);
    }
    assert.deepEqual(await leftovers(k().dir), NOTHING_LEFT);
    const pids = k().started.map((p) => p.pid);
    const id = k().cluster.id;
    const dir = k().dir;
    await k().destroy();
    kit = undefined;
    assert.deepEqual(pids.filter((pid) => { try { process.kill(pid, 0); return true; } catch { return false; } }), [], 'no process left');
    assert.deepEqual(await namespacesOf(id), [], 'no namespace left');
    assert.deepEqual(await leftovers(dir), NOTHING_LEFT);
  });
});
