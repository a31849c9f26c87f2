/**
 * Issue 9 §4, with the control plane in the loop: the control plane moves the nexus of a
 * 3-replica volume off its lost node (generation + 1, fencing the replicas it reaches);
 * the old node then restarts (1) cut off from everything, (2) reaching the control plane
 * but none of the replicas, (3) reaching all. At no point may its old nexus acknowledge
 * a write, and every acknowledged write is read back from the new owner.
 * Engines, the control plane and qemu-io run in network namespaces (csi_netns_kit.ts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { NsCsiCluster, initiatorOf } from '../csi_e2e/csi_netns_kit.ts';
import { nsRun, type NetNode } from '../helpers/netns.ts';
import { CommandError, sleep, waitFor } from '../helpers/tools.ts';
import { blackhole, unblackhole } from './split_brain_kit.ts';

const MiB = 1024 * 1024;
let k: NsCsiCluster | undefined;
after(async () => { await k?.destroy(); });

interface VolumeDoc { id: string; target?: { url: string } }
interface NexusDoc { nodeId: string; generation: number }

async function cp<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${(k as NsCsiCluster).controlUrl}${path}`, {
    method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** qemu-io in `node`'s namespace against an iSCSI URL, logging in as `initiator` (the volume's ACL). */
async function qemuIo(node: NetNode, url: string, initiator: string, cmds: string[], timeoutMs = 120_000): Promise<{ ok: boolean; out: string }> {
  console.log(`qemu-io in ${node.ns} on ${url}: ${cmds.join('; ')}`);
  const m = /^iscsi:\/\/([^/]+)\/([^/]+)\/(\d+)$/.exec(url);
  assert.ok(m, url);
  const opts = `driver=iscsi,transport=tcp,portal=${m[1]},target=${m[2]},lun=${m[3]},initiator-name=${initiator}`;
  const r = await nsRun(node.ns, 'qemu-io', ['--image-opts', opts, ...cmds.flatMap((c) => ['-c', c])], { timeoutMs, check: false });
  const out = r.stdout + r.stderr;
  return { ok: r.code === 0 && !/error|fail|mismatch/i.test(out), out };
}

/**
 * The write must not be acknowledged. An initiator left without an answer counts as refused:
 * seen when the control plane unexports the old nexus while qemu-io is logged in to it.
 */
async function refused(node: NetNode, url: string, initiator: string, cmd: string, what: string): Promise<void> {
  const r = await qemuIo(node, url, initiator, [cmd], 30_000).catch((err: unknown) => {
    if (err instanceof CommandError && /timed out/.test(err.message)) return { ok: false, out: 'no answer within 30 s' };
    throw err;
  });
  console.log(`  -> ${r.ok ? 'ACKNOWLEDGED' : r.out.trim().split('\n').slice(-1)[0]}`);
  assert.ok(!r.ok, `${what}: the old nexus acknowledged "${cmd}":\n${r.out}`);
}

test('replication_split_brain_cp: the control plane moves a nexus off a lost node; the old one acknowledges nothing when it returns, with or without the control plane reachable', { timeout: 600_000 }, async () => {
  k = await NsCsiCluster.create(['a', 'b', 'c'], [
    '--heartbeat-deadline-ms', '4000', '--node-loss-grace-ms', '2000', '--orphan-min-age-ms', '0', '--orphan-interval-ms', '1000',
  ]);
  for (const n of ['a', 'b', 'c']) {
    await waitFor(`node ${n} online`, async () => {
      const node = await cp<{ state?: { status?: string } }>('GET', `/v1/nodes/${n}`).catch(() => undefined);
      return node?.state?.status === 'online' ? true : undefined;
    }, 30_000, 250);
    await cp('POST', '/v1/pools', { nodeId: n, name: 'p', sizeBytes: 256 * MiB });
  }
  await waitFor('pools online', async () => {
    const { pools } = await cp<{ pools: Array<{ status: string }> }>('GET', '/v1/pools');
    return pools.length === 3 && pools.every((p) => p.status === 'online') ? true : undefined;
  }, 30_000, 250);
  const made = await cp<VolumeDoc>('POST', '/v1/volumes', { name: 'pvc-sb', sizeBytes: 16 * MiB, replicas: 3 });
  await waitFor('volume online with 3 replicas', async () => {
    const v = await cp<{ status: string; replicaStates: Array<{ status: string }> }>('GET', `/v1/volumes/${made.id}`);
    return v.status === 'online' && v.replicaStates.filter((r) => r.status === 'online').length === 3 ? true : undefined;
  }, 60_000, 250);
  const ini = initiatorOf('b');
  const pub = await cp<VolumeDoc>('POST', `/v1/volumes/${made.id}/publish`, { nodeId: 'b', initiatorIqn: ini });
  const first = await cp<NexusDoc>('GET', `/v1/nexuses/${made.id}`);
  assert.equal(first.nodeId, 'b', `the nexus runs on the publishing node, which holds a replica: ${JSON.stringify(first)}`);
  const oldUrl = pub.target!.url;
  const b = k.nodeOf('b');
  const w1 = await qemuIo(b, oldUrl, ini, ['write -P 0x11 0 16M', 'flush']);
  assert.ok(w1.ok, w1.out);

  // b is lost: the control plane recreates the nexus elsewhere with generation + 1.
  await k.failNode('b');
  const moved = await waitFor('nexus moved off b', async () => {
    const n = await cp<NexusDoc>('GET', `/v1/nexuses/${made.id}`).catch(() => undefined);
    return n !== undefined && n.nodeId !== 'b' ? n : undefined;
  }, 90_000, 500);
  assert.equal(moved.generation, first.generation + 1);
  const newUrl = (await cp<VolumeDoc>('GET', `/v1/volumes/${made.id}`)).target!.url;
  assert.notEqual(newUrl, oldUrl, 'the target moved with the nexus');
  const w2 = await qemuIo(k.control, newUrl, ini, ['write -P 0x22 4M 4M', 'flush']);
  assert.ok(w2.ok, w2.out);

  // (1) b restarts cut off from everything, the control plane included.
  await k.startEngine('b');
  await refused(b, oldUrl, ini, 'write -P 0x33 0 64k', 'cut off from every peer and the control plane');

  // (2) the control plane is reachable, the replicas are not.
  await blackhole(b, k.nodeOf('a'));
  await blackhole(b, k.nodeOf('c'));
  await k.cluster.heal(b);
  for (let i = 0; i < 5; i++) {
    await refused(b, oldUrl, ini, `write -P 0x34 ${i}M 64k`, 'reaching the control plane only');
    await sleep(1000);
  }

  // (3) everything is reachable again.
  await unblackhole(b, k.nodeOf('a'));
  await unblackhole(b, k.nodeOf('c'));
  for (let i = 0; i < 5; i++) {
    await refused(b, oldUrl, ini, `write -P 0x35 ${8 + i}M 64k`, 'routes healed');
    await sleep(1000);
  }

  // Every acknowledged write, and nothing else, is what the new owner serves.
  const r = await qemuIo(k.control, newUrl, ini, ['read -P 0x11 0 4M', 'read -P 0x22 4M 4M', 'read -P 0x11 8M 8M']);
  assert.ok(r.ok, r.out);
});
