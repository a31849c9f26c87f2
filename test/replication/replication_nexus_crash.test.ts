import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, MiB, POOL, allOnline, createNexus, describe, prepareReplicas, qemuIo, waitFor, type NodeEngine } from './replication_kit.ts';

const VOLUME = 'vol-crash';
const SIZE = 64 * MiB;
const WRITES = 800;
const CHUNK = 64 * 1024;
const KILL_AFTER = 250;
let cluster: Cluster | undefined;
after(async () => { await cluster?.destroy(); });

const patternOf = (i: number): number => 1 + (i % 250);

test('replication_nexus_crash: kill -9 of the nexus engine mid-write loses no acknowledged (FUA) write, after restart and after a move', { timeout: 300_000 }, async () => {
  cluster = await Cluster.create(5);
  const [client, n1, n2, n3, n4] = cluster.nodes;
  const front = await cluster.startEngine(n1);
  const r2 = await cluster.startEngine(n2);
  const r3 = await cluster.startEngine(n3);
  const spare = await cluster.startEngine(n4);
  const replicas: NodeEngine[] = [front, r2, r3];
  await prepareReplicas(replicas, VOLUME, SIZE);
  const { url, nexus } = await createNexus(front, replicas, VOLUME);

  // Sequential FUA writes, each to its own 64 KiB slot with its own pattern; qemu-io prints a line per ack.
  const cmds = Array.from({ length: WRITES }, (_, i) => ['-c', `write -f -P ${patternOf(i)} ${i * CHUNK} ${CHUNK}`]).flat();
  const writer = cluster.spawnIn(client, 'stdbuf', ['-oL', 'qemu-io', '-f', 'raw', url, ...cmds]);
  const acked: number[] = [];
  let killed: Promise<void> | undefined;
  let partial = '';
  writer.stdout!.setEncoding('utf8').on('data', (c: string) => {
    partial += c;
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      const m = /^wrote \d+\/\d+ bytes at offset (\d+)/.exec(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      if (m && !killed) acked.push(Number(m[1]) / CHUNK);
      if (acked.length >= KILL_AFTER && !killed) killed = front.kill();
    }
  });
  const deadline = Date.now() + 60_000;
  while (!killed && Date.now() < deadline && writer.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  assert.ok(killed, `only ${acked.length} writes were acknowledged before the writer ended`);
  await killed;
  writer.kill('SIGKILL');
  assert.ok(acked.length >= KILL_AFTER && acked.length < WRITES, `acked ${acked.length}`);

  const readBack = (target: string) => qemuIo(client, target, acked.map((i) => `read -P ${patternOf(i)} ${i * CHUNK} ${CHUNK}`));

  // Restart: the engine re-creates the nexus from its state file and serves the same LUN.
  await front.restart();
  const restored = await waitFor(front, VOLUME, 'nexus re-created online', allOnline, 30_000);
  assert.equal(restored.generation, nexus.generation);
  await readBack(url);

  // Move: destroy here, create on another node with generation + 1 and the same identity.
  await front.api('DELETE', `/v1/nexus/${VOLUME}/export`);
  await front.api('DELETE', `/v1/nexus/${VOLUME}`);
  const moved = await spare.api<{ generation: number; uuid: string }>('POST', '/v1/nexus', {
    name: VOLUME, uuid: nexus.uuid, generation: nexus.generation + 1,
    replicas: replicas.map((e) => ({ node: e.replica, pool: POOL, volume: VOLUME })),
  });
  assert.equal(moved.uuid, nexus.uuid);
  const ex = await spare.api<{ url: string }>('POST', `/v1/nexus/${VOLUME}/export`, {});
  assert.equal(ex.url.split('/')[3], url.split('/')[3], 'the target IQN follows the nexus');
  await readBack(ex.url);
  assert.equal((await describe(spare, VOLUME)).state, 'online');
});
