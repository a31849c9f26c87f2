import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, MiB, allOnline, createNexus, prepareReplicas, qemuIo, replicaOn, sleep, volumeDigest, waitFor, type NodeEngine } from './replication_kit.ts';

const VOLUME = 'vol-delta';
const SIZE = 64 * MiB;
let cluster: Cluster | undefined;
let second: Cluster | undefined;
after(async () => { await cluster?.destroy(); await second?.destroy(); });

test('replication_delta_resync: after a 10 s absence with 4 MiB written, only about 4 MiB is copied', { timeout: 240_000 }, async () => {
  cluster = await Cluster.create(3);
  const [client, n1, n2] = cluster.nodes;
  const front = await cluster.startEngine(n1);
  const peer = await cluster.startEngine(n2);
  const engines: NodeEngine[] = [front, peer];
  await prepareReplicas(engines, VOLUME, SIZE);
  const { url } = await createNexus(front, engines, VOLUME);

  // Fill the whole volume so a full rebuild would have to copy all 64 MiB.
  await qemuIo(client, url, ['write -P 0x11 0 64M']);
  await waitFor(front, VOLUME, 'both replicas online', allOnline);

  await peer.kill();
  const gone = Date.now();
  await qemuIo(client, url, ['write -P 0x22 8M 4M', 'flush']);
  const down = await waitFor(front, VOLUME, 'the peer retired', (d) => replicaOn(d, peer).state === 'faulted', 15_000);
  assert.equal(replicaOn(down, peer).missingBytes, 4 * MiB);
  await sleep(Math.max(0, 10_000 - (Date.now() - gone)));

  await peer.restart();
  const healed = await waitFor(front, VOLUME, 'the peer resynced', (d) => allOnline(d) && replicaOn(d, peer).lastRebuild !== null, 60_000);
  const last = replicaOn(healed, peer).lastRebuild!;
  assert.equal(last.outcome, 'online');
  assert.ok(last.bytesCopied >= 4 * MiB && last.bytesCopied <= 6 * MiB, `copied ${last.bytesCopied} bytes, expected about 4 MiB`);
  assert.ok(last.bytesTotal <= 6 * MiB, `the rebuild planned ${last.bytesTotal} bytes`);

  await qemuIo(client, url, ['read -P 0x11 0 8M', 'read -P 0x22 8M 4M', 'read -P 0x11 12M 52M']);
  await front.stop();
  await peer.stop();
  assert.equal(await volumeDigest(peer, VOLUME), await volumeDigest(front, VOLUME));
});

test('replication_intents_persisted: the nexus engine crashes while a replica is away; after restart the replica still resyncs only what it missed', { timeout: 240_000 }, async () => {
  second = await Cluster.create(3);
  const [client, n1, n2] = second.nodes;
  const front = await second.startEngine(n1);
  const peer = await second.startEngine(n2);
  await prepareReplicas([front, peer], VOLUME, SIZE);
  const { url } = await createNexus(front, [front, peer], VOLUME);
  await qemuIo(client, url, ['write -P 0x41 0 64M']);

  await peer.kill();
  // Acknowledged only once the regions are recorded in the persisted map of the absent replica.
  await qemuIo(client, url, ['write -P 0x42 20M 3M', 'flush']);
  await front.kill();
  await front.restart();
  const restored = await waitFor(front, VOLUME, 'nexus re-created degraded', (d) => d.state === 'degraded', 30_000);
  assert.equal(replicaOn(restored, peer).state, 'faulted');
  assert.ok(replicaOn(restored, peer).missingBytes >= 3 * MiB, JSON.stringify(restored));

  await peer.restart();
  const healed = await waitFor(front, VOLUME, 'the peer resynced', (d) => allOnline(d) && replicaOn(d, peer).lastRebuild !== null, 60_000);
  const copied = replicaOn(healed, peer).lastRebuild!.bytesCopied;
  assert.ok(copied >= 3 * MiB && copied <= 5 * MiB, `copied ${copied} bytes, expected about 3 MiB`);
  await qemuIo(client, url, ['read -P 0x41 0 20M', 'read -P 0x42 20M 3M', 'read -P 0x41 23M 41M']);
  await front.stop();
  await peer.stop();
  assert.equal(await volumeDigest(peer, VOLUME), await volumeDigest(front, VOLUME));
});
