import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiCallError } from '../helpers/netns.ts';
import { Cluster, MiB, POOL, allOnline, createNexus, describe, prepareReplicas, qemuIo, replicaOn, waitFor, type NodeEngine } from './replication_kit.ts';

const VOLUME = 'vol-part';
const SIZE = 32 * MiB;
let cluster: Cluster | undefined;
after(async () => { await cluster?.destroy(); });

test('replication_partition_fencing: a partitioned replica is rebuilt before it serves reads; an older nexus cannot write', { timeout: 300_000 }, async () => {
  cluster = await Cluster.create(5);
  const [client, n1, n2, n3, n4] = cluster.nodes;
  const front = await cluster.startEngine(n1);
  const a = await cluster.startEngine(n2);
  const b = await cluster.startEngine(n3);
  const other = await cluster.startEngine(n4);
  const replicas: NodeEngine[] = [a, b];
  await prepareReplicas(replicas, VOLUME, SIZE);
  const { url, nexus } = await createNexus(front, replicas, VOLUME);
  assert.equal(nexus.generation, 1);
  await qemuIo(client, url, ['write -P 0x31 0 32M']);

  // Partition b from the nexus; writes go on to a alone.
  await cluster.cut(n3);
  await qemuIo(client, url, ['write -P 0x32 4M 8M', 'flush']);
  const cutOff = await waitFor(front, VOLUME, 'b retired', (d) => replicaOn(d, b).state === 'faulted', 20_000);
  assert.equal(cutOff.state, 'degraded');
  assert.ok(replicaOn(cutOff, b).missingBytes >= 8 * MiB);

  await cluster.heal(n3);
  const healed = await waitFor(front, VOLUME, 'b rebuilt', (d) => allOnline(d) && replicaOn(d, b).lastRebuild !== null, 60_000);
  assert.equal(replicaOn(healed, b).lastRebuild!.outcome, 'online');
  // With a gone, every read is served by b: it must hold what was written while it was away.
  await a.kill();
  await waitFor(front, VOLUME, 'a retired', (d) => replicaOn(d, a).state === 'faulted', 20_000);
  await qemuIo(client, url, ['read -P 0x31 0 4M', 'read -P 0x32 4M 8M', 'read -P 0x31 12M 20M']);
  await a.restart();
  await waitFor(front, VOLUME, 'a back', allOnline, 60_000);

  // Move-style takeover while the old nexus lives: generation 2 fences both replicas ...
  const refs = replicas.map((e) => ({ node: e.replica, pool: POOL, volume: VOLUME }));
  const moved = await other.api<{ generation: number }>('POST', '/v1/nexus', { name: VOLUME, replicas: refs, generation: 2 });
  assert.equal(moved.generation, 2);
  // ... so the old incarnation can no longer write, and says why.
  const stale = await qemuIo(client, url, ['write -P 0x33 0 64k'], false);
  assert.ok(stale.code !== 0 || /error|fail/i.test(stale.out), `the old nexus accepted a write:\n${stale.out}`);
  assert.equal((await describe(front, VOLUME)).state, 'fenced');

  // A new nexus with an old generation is refused at the fence.
  await front.api('DELETE', `/v1/nexus/${VOLUME}/export`);
  await front.api('DELETE', `/v1/nexus/${VOLUME}`);
  await assert.rejects(front.api('POST', '/v1/nexus', { name: VOLUME, replicas: refs, generation: 1 }),
    (err: unknown) => err instanceof ApiCallError && err.code === 'STALE_GENERATION');
  // Without a generation the engine picks one above every replica's.
  const auto = await front.api<{ generation: number }>('POST', '/v1/nexus', { name: `${VOLUME}-probe`, replicas: refs, requireFenced: 2 });
  assert.equal(auto.generation, 3);
  // That fenced the takeover nexus in turn: generations only go up.
  await front.api('DELETE', `/v1/nexus/${VOLUME}-probe`);

  // The data acknowledged before the takeovers is intact (read through a fresh nexus, generation 4).
  const { url: last } = await createNexus(front, replicas, VOLUME);
  await qemuIo(client, last, ['read -P 0x31 0 4M', 'read -P 0x32 4M 8M', 'read -P 0x31 12M 20M']);
  assert.equal((await describe(front, VOLUME)).generation, 4);
  // The generation-2 nexus learns it was superseded on its next I/O, and refuses it.
  const ex2 = await other.api<{ url: string }>('POST', `/v1/nexus/${VOLUME}/export`, {});
  const late = await qemuIo(client, ex2.url, ['write -P 0x34 0 64k'], false);
  assert.ok(late.code !== 0 || /error|fail/i.test(late.out), `the generation-2 nexus accepted a write:\n${late.out}`);
  assert.equal((await describe(other, VOLUME)).state, 'fenced');
  await qemuIo(client, last, ['read -P 0x31 0 4M']);
});
