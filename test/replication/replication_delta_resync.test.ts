import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, MiB, allOnline, createNexus, prepareReplicas, qemuIo, replicaOn, sleep, volumeDigest, waitFor, type NodeEngine } from './replication_kit.ts';

const VOLUME = 'vol-delta';
const SIZE = 64 * MiB;
let cluster: Cluster | undefined;
let second: Cluster | undefined;
let third: Cluster | undefined;
after(async () => { await cluster?.destroy(); await second?.destroy(); await third?.destroy(); });

/** `n` qemu-io writes of `size` bytes at distinct random 4 KiB-aligned offsets of a `volume`-byte volume; returns the commands. */
function randomWrites(n: number, size: number, volume: number, seed: number, pattern: number): string[] {
  const slots = volume / size;
  const taken = new Set<number>();
  let x = seed;
  while (taken.size < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // Any 4 KiB boundary (as fio places them), so a 64 KiB write may straddle two regions.
    const at = Math.floor((x / 2 ** 32) * (slots - 1) * (size / 4096)) * 4096;
    if (![...taken].some((t) => Math.abs(t - at) < size)) taken.add(at);
  }
  return [...taken].map((at) => `write -P 0x${pattern.toString(16)} ${at} ${size}`);
}

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
  // Its peer away, the restarted nexus holds its generation on 1 of the 2 replicas it needs (docs/nexus.md): it serves nothing until the peer answers.
  const restored = await waitFor(front, VOLUME, 'nexus re-created, waiting for its quorum', (d) => d.state === 'no-quorum', 30_000);
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

test('replication_delta_resync_random: after 4 KiB and 64 KiB random writes while a replica was partitioned away, the resync copies at most twice the bytes written', { timeout: 420_000 }, async () => {
  const size = 128 * MiB;
  third = await Cluster.create(3);
  const [client, n1, n2] = third.nodes;
  const front = await third.startEngine(n1);
  const peer = await third.startEngine(n2);
  await prepareReplicas([front, peer], VOLUME, size);
  const { url } = await createNexus(front, [front, peer], VOLUME);
  // Written everywhere first, so every region is mapped: only the write-intent map can keep the resync small.
  await qemuIo(client, url, ['write -P 0x51 0 128M']);
  await waitFor(front, VOLUME, 'both replicas online', allOnline);

  const rounds = [{ io: 4096, n: 1024, pattern: 0x61 }, { io: 64 * 1024, n: 128, pattern: 0x62 }];
  const measured: string[] = [];
  for (const [i, round] of rounds.entries()) {
    await third.cut(n2);
    // 1 MiB regions: 1024 random 4 KiB writes touch every one of the 128, as do 128 writes of 64 KiB most of them.
    const cmds = randomWrites(round.n, round.io, size, 17 + i, round.pattern);
    await qemuIo(client, url, [...cmds, 'flush']);
    const written = round.n * round.io;
    const down = await waitFor(front, VOLUME, 'the peer retired', (d) => replicaOn(d, peer).state === 'faulted', 30_000);
    const missing = replicaOn(down, peer).missingBytes;
    assert.ok(missing >= written && missing <= 2 * written, `${round.io}-byte writes: ${written} bytes written, ${missing} marked missing`);

    const before = replicaOn(down, peer).lastRebuild?.bytesCopied;
    await third.heal(n2);
    const healed = await waitFor(front, VOLUME, 'the peer resynced',
      (d) => allOnline(d) && replicaOn(d, peer).lastRebuild !== null && (i === 0 || replicaOn(d, peer).lastRebuild!.bytesCopied !== before), 120_000);
    const last = replicaOn(healed, peer).lastRebuild!;
    assert.equal(last.outcome, 'online');
    assert.ok(last.bytesCopied >= written && last.bytesCopied <= 2 * written,
      `${round.io}-byte random writes: ${written} bytes written during the outage, ${last.bytesCopied} copied by the resync`);
    measured.push(`${round.io / 1024}k: written ${written}, copied ${last.bytesCopied}`);
    // Every write reached the volume, through whichever replica serves the read.
    await qemuIo(client, url, cmds.slice(0, 64).map((c) => c.replace(/^write/, 'read')));
  }
  console.log(`replication_delta_resync_random: ${measured.join('; ')}`);
  await front.stop();
  await peer.stop();
  assert.equal(await volumeDigest(peer, VOLUME), await volumeDigest(front, VOLUME));
});
