/**
 * Issue 9 §4: a replica whose pool is full used to be reconnected, rebuilt and retired
 * about twice a second for as long as it stayed full. Now a failed rebuild backs off
 * like a failed reconnect, the API says why the replica is not back and when the next
 * attempt comes, and once space returns (a volume deleted on its pool) the replica is
 * healed without anybody's help.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, MiB, POOL, describe, qemuIo, replicaOn, sleep, waitFor, volumeDigest, type ReplicaDoc } from './replication_kit.ts';

const VOLUME = 'vol-full';
const SIZE = 32 * MiB;
let cluster: Cluster | undefined;
after(async () => { await cluster?.destroy(); });

type RetryDoc = ReplicaDoc & { lastError: string | null; retryAt: string | null; retryAttempts: number; reason?: string };

test('replication_full_replica_pool: a replica on a full pool is retried with backoff and healed when space returns', { timeout: 400_000 }, async () => {
  cluster = await Cluster.create(2);
  const [n0, n1] = cluster.nodes;
  const front = await cluster.startEngine(n0);
  const far = await cluster.startEngine(n1);
  await front.api('POST', '/v1/pools', { name: POOL, sizeBytes: 4 * SIZE });
  await front.api('POST', `/v1/pools/${POOL}/volumes`, { name: VOLUME, sizeBytes: SIZE });
  // The far pool has room for a few MiB of the replica only: a thick filler takes the rest.
  await far.api('POST', '/v1/pools', { name: POOL, sizeBytes: 64 * MiB, extentSize: MiB });
  await far.api('POST', `/v1/pools/${POOL}/volumes`, { name: VOLUME, sizeBytes: SIZE, thin: true });
  const pool = await far.api<{ freeBytes: number }>('GET', `/v1/pools/${POOL}`);
  await far.api('POST', `/v1/pools/${POOL}/volumes`, { name: 'filler', sizeBytes: pool.freeBytes - 6 * MiB, thin: false });

  await front.api('POST', '/v1/nexus', { name: VOLUME, replicas: [{ node: 'local', pool: POOL, volume: VOLUME }, { node: far.replica, pool: POOL, volume: VOLUME }] });
  const { url } = await front.api<{ url: string }>('POST', `/v1/nexus/${VOLUME}/export`, {});
  // Every write is acknowledged (the local replica takes it); the far one is retired when its pool fills.
  await qemuIo(n0, url, ['write -P 0x41 0 24M', 'flush']);
  const retired = await waitFor(front, VOLUME, 'far replica retired', (d) => replicaOn(d, far).state === 'faulted', 30_000);
  assert.equal(retired.state, 'degraded');

  // While its pool stays full: few attempts, each visible with its reason and the time of the next.
  const logBefore = front.diagnostics().split('replica reconnected; resyncing').length;
  const first = replicaOn(await describe(front, VOLUME), far) as RetryDoc;
  await sleep(25_000);
  const later = replicaOn(await describe(front, VOLUME), far) as RetryDoc;
  const cycles = front.diagnostics().split('replica reconnected; resyncing').length - logBefore;
  assert.notEqual(later.state, 'online');
  assert.ok(cycles <= 6, `${cycles} reconnect+rebuild cycles in 25 s (31 measured here before the backoff)`);
  assert.ok(later.retryAttempts - (first.retryAttempts ?? 0) <= 6, JSON.stringify(later));
  assert.match(`${later.lastError} ${later.reason}`, /space|full/i, JSON.stringify(later));
  assert.ok(later.retryAt !== null || later.state === 'rebuilding', `the next attempt is scheduled: ${JSON.stringify(later)}`);

  // Space returns: the next attempt heals it.
  await far.api('DELETE', `/v1/pools/${POOL}/volumes/filler`);
  const healed = await waitFor(front, VOLUME, 'far replica healed after space returned', (d) => d.state === 'online', 240_000);
  assert.equal(replicaOn(healed, far).lastRebuild?.outcome, 'online');
  await qemuIo(n0, url, ['read -P 0x41 0 24M']);
  await front.api('DELETE', `/v1/nexus/${VOLUME}/export`);
  await front.api('DELETE', `/v1/nexus/${VOLUME}`);
  await front.stop();
  await far.stop();
  assert.equal(await volumeDigest(far, VOLUME), await volumeDigest(front, VOLUME), 'the healed replica holds the acknowledged data');
});
