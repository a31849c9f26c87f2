/**
 * Issue 9 §4: a nexus never acknowledges a write unless it holds the current generation
 * on a quorum of its replicas. The sequence found by trying it: the nexus of generation
 * 2 ran on B over A, B, C; B died; generation 3 was created on C over C and A; B came
 * back cut off from A and C. Its generation-2 nexus must serve nothing (no-quorum),
 * turn `fenced` as soon as A or C answers it with STALE_GENERATION, and every write
 * acknowledged anywhere must be readable from the generation-3 owner.
 * qemu-io runs in the nexus's own node (the pod's node), which a cut link does not isolate from it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, MiB, POOL, createNexus, describe as describeNexus, prepareReplicas, qemuIo, waitFor, type NexusDoc, type NodeEngine } from './replication_kit.ts';
import { assertWriteRefused, blackhole } from './split_brain_kit.ts';

const SIZE = 16 * MiB;
const clusters: Cluster[] = [];
after(async () => { for (const c of clusters) await c.destroy(); });

const describe = (e: NodeEngine, volume: string) => describeNexus(e, volume) as Promise<NexusDoc & { reason?: string }>;
const ref = (e: NodeEngine, volume: string) => ({ node: e.replica, pool: POOL, volume });

/** Generation 2 on B over A, B, C with 0x11 everywhere; B killed; generation 3 on C over C and A with 0x22 in 4M..8M. */
async function moveAwayFromB(volume: string) {
  const cluster = await Cluster.create(3);
  clusters.push(cluster);
  const [n1, n2, n3] = cluster.nodes;
  const a = await cluster.startEngine(n1);
  const b = await cluster.startEngine(n2);
  const c = await cluster.startEngine(n3);
  await prepareReplicas([a, b, c], volume, SIZE);
  const { url: urlB, nexus } = await createNexus(b, [a, b, c], volume, { generation: 2 });
  assert.equal(nexus.generation, 2);
  await qemuIo(n2, urlB, ['write -P 0x11 0 16M', 'flush']);
  await b.kill();
  const gen3 = await c.api<{ generation: number; state: string }>('POST', '/v1/nexus', {
    name: volume, uuid: nexus.uuid, generation: 3, replicas: [{ node: 'local', pool: POOL, volume }, ref(a, volume)],
  });
  assert.equal(gen3.generation, 3);
  const { url: urlC } = await c.api<{ url: string }>('POST', `/v1/nexus/${volume}/export`, {});
  await qemuIo(n3, urlC, ['write -P 0x22 4M 4M', 'flush']);
  return { cluster, a, b, c, urlB, urlC };
}

/** What every acknowledged write left: 0x11 around 0x22 in 4M..8M, read through the generation-3 owner. */
async function checkOwner(c: NodeEngine, urlC: string): Promise<void> {
  await qemuIo(c.node, urlC, ['read -P 0x11 0 4M', 'read -P 0x22 4M 4M', 'read -P 0x11 8M 8M']);
}

test('replication_split_brain: a restarted generation-2 nexus cut off from every peer acknowledges nothing and is fenced when routes heal', { timeout: 300_000 }, async () => {
  const volume = 'vol-sb-all';
  const { cluster, b, c, urlB, urlC } = await moveAwayFromB(volume);
  await cluster.cut(b.node);
  await b.restart();
  await assertWriteRefused(b.node, urlB, 'write -P 0x33 0 64k', 'cut off from A and C');
  const waiting = await describe(b, volume);
  assert.equal(waiting.generation, 2);
  assert.equal(waiting.state, 'no-quorum', JSON.stringify(waiting));
  assert.match(waiting.reason ?? '', /1 of the 2 replicas/);
  await cluster.heal(b.node);
  // Retries of A and C are at most NEXUS_RETRY_MAX_MS apart: their HELLO answers STALE_GENERATION.
  const deadline = Date.now() + 40_000;
  let fenced = false;
  while (!fenced && Date.now() < deadline) {
    await assertWriteRefused(b.node, urlB, 'write -P 0x34 8M 64k', 'after the routes healed');
    fenced = (await describe(b, volume)).state === 'fenced';
  }
  const after = await describe(b, volume);
  assert.equal(after.state, 'fenced', JSON.stringify(after));
  assert.match(after.reason ?? '', /generation/);
  await assertWriteRefused(b.node, urlB, 'write -P 0x35 12M 64k', 'fenced');
  await checkOwner(c, urlC);
});

test('replication_split_brain: restarted while cut off from one peer only, the stale nexus is fenced at once by the other', { timeout: 300_000 }, async () => {
  const volume = 'vol-sb-one';
  const { b, c, urlB, urlC } = await moveAwayFromB(volume);
  await blackhole(b.node, c.node);
  await b.restart();
  await assertWriteRefused(b.node, urlB, 'write -P 0x33 0 64k', 'reaching only A');
  // The API says `fenced`, the documented word (it said `faulted` before).
  const doc = await describe(b, volume);
  assert.equal(doc.state, 'fenced', JSON.stringify(doc));
  await checkOwner(c, urlC);
});

test('replication_split_brain: two replicas, recovery on the survivor with a lower requireFenced; the old node returns cut off, then heals', { timeout: 300_000 }, async () => {
  const volume = 'vol-sb-two';
  const cluster = await Cluster.create(2);
  clusters.push(cluster);
  const [n1, n2] = cluster.nodes;
  const a = await cluster.startEngine(n1);
  const b = await cluster.startEngine(n2);
  await prepareReplicas([a, b], volume, SIZE);
  const { url: urlB, nexus } = await createNexus(b, [a, b], volume, { generation: 2 });
  await qemuIo(n2, urlB, ['write -P 0x11 0 16M', 'flush']);
  await b.kill();
  // The documented recovery path: list the dead node's replica too, require only the survivor.
  const gen3 = await a.api<{ generation: number; state: string; replicas: Array<{ node: string; state: string }> }>('POST', '/v1/nexus', {
    name: volume, uuid: nexus.uuid, generation: 3, requireFenced: 1, replicas: [{ node: 'local', pool: POOL, volume }, ref(b, volume)],
  });
  assert.equal(gen3.state, 'degraded');
  assert.equal(gen3.replicas.find((r) => r.node === b.replica)?.state, 'faulted');
  const { url: urlA } = await a.api<{ url: string }>('POST', `/v1/nexus/${volume}/export`, {});
  await qemuIo(n1, urlA, ['write -P 0x22 4M 4M', 'flush']);

  await cluster.cut(n2);
  await b.restart();
  await assertWriteRefused(n2, urlB, 'write -P 0x33 0 64k', 'cut off from A');
  assert.equal((await describe(b, volume)).state, 'no-quorum');
  await cluster.heal(n2);
  await waitFor(b, volume, 'old nexus fenced', (d) => d.state === 'fenced', 40_000);
  await assertWriteRefused(n2, urlB, 'write -P 0x34 0 64k', 'fenced');
  // The generation-3 nexus takes B's replica back and resyncs it; the data is the acknowledged one.
  await waitFor(a, volume, 'B back in sync', (d) => d.state === 'online', 60_000);
  await qemuIo(n1, urlA, ['read -P 0x11 0 4M', 'read -P 0x22 4M 4M', 'read -P 0x11 8M 8M']);
});
