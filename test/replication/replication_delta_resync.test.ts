import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, MiB, allOnline, createNexus, prepareReplicas, qemuIo, replicaOn, sleep, volumeDigest, waitFor, type NodeEngine } from './replication_kit.ts';

const VOLUME = 'vol-delta';
const SIZE = 64 * MiB;
let cluster: Cluster | undefined;
after(async () => { await cluster?.destroy(); });

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
