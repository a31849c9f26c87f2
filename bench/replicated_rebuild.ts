/**
 * The rebuild half of the replicated benchmark: how fast a nexus brings a new replica
 * in sync (idle and under 4k random-write load), how long a delta resync takes, and the
 * baseline — the same bytes copied between the same two namespaces with dd and socat.
 */
import { join } from 'node:path';
import { nsRun, type Cluster, type NodeEngine } from '../test/helpers/netns.ts';
import { sleep } from '../test/helpers/tools.ts';
import { fioArgs } from './fio.ts';
import { Metric } from './bench_rows.ts';

const MiB = 1024 * 1024;

interface ReplicaDoc { node: string; state: string; lastRebuild: { outcome: string; bytesCopied: number; seconds: number } | null }
interface NexusDoc { state: string; replicas: ReplicaDoc[] }

export interface RebuildFigures {
  bytes: number;
  idleMiBps: number;
  loadedMiBps: number;
  plainCopyMiBps: number;
  deltaBytes: number;
  deltaSeconds: number;
  /** Restart of the absent engine to every replica online, seconds. */
  deltaWallSeconds: number;
}

async function waitRebuilt(front: NodeEngine, name: string, peer: NodeEngine, timeoutMs: number): Promise<ReplicaDoc> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const d = await front.api<NexusDoc>('GET', `/v1/nexus/${name}`);
    const r = d.replicas.find((x) => x.node === peer.replica);
    if (d.state === 'online' && r?.lastRebuild) return r;
    await sleep(100);
  }
  throw new Error(`rebuild of ${name} onto ${peer.replica} did not finish in ${timeoutMs} ms`);
}

/** Adds `peer`'s replica to the nexus with a full copy and returns the rebuild's rate. */
export async function fullRebuild(front: NodeEngine, name: string, peer: NodeEngine, volume: string): Promise<{ bytes: number; mibps: number }> {
  await front.api('POST', `/v1/nexus/${name}/replicas`, { node: peer.replica, pool: 'p', volume, full: true });
  const r = await waitRebuilt(front, name, peer, 30 * 60_000);
  const last = r.lastRebuild!;
  await front.api('DELETE', `/v1/nexus/${name}/replicas/${encodeURIComponent(`${peer.replica}/p/${volume}`)}`);
  return { bytes: last.bytesCopied, mibps: last.bytesCopied / MiB / last.seconds };
}

/** dd of `bytes` from a file on `from` through socat into a file on `to`, synced at the end. */
export async function plainCopy(cluster: Cluster, from: NodeEngine, to: NodeEngine, source: string, bytes: number): Promise<number> {
  const port = 40000 + Math.floor(Math.random() * 20000);
  const dest = join(cluster.dir, 'plain-copy.bin');
  const sink = cluster.spawnIn(to.node, 'sh', ['-c', `socat -u TCP-LISTEN:${port},reuseaddr STDOUT | dd of=${dest} bs=1M conv=fdatasync status=none`]);
  const done = new Promise<void>((resolve) => sink.once('exit', () => resolve()));
  await sleep(300);
  const started = process.hrtime.bigint();
  await nsRun(from.node.ns, 'sh', ['-c', `dd if=${source} bs=1M count=${bytes / MiB} status=none | socat -u STDIN TCP:${to.node.ip}:${port}`], { timeoutMs: 30 * 60_000 });
  await done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await nsRun(to.node.ns, 'rm', ['-f', dest]);
  return bytes / MiB / seconds;
}

/**
 * `front` runs a nexus over its own thick volume `rb`, filled with data; `peer` holds an equal volume that
 * is added (full copy) twice — idle, then under fio 4k randwrite QD32 — and then serves
 * a delta-resync measurement after a 10 s absence with 8 MiB written.
 */
export async function measureRebuild(cluster: Cluster, front: NodeEngine, peer: NodeEngine, sizeBytes: number, fio: string): Promise<RebuildFigures> {
  for (const e of [front, peer]) await e.api('POST', '/v1/pools/p/volumes', { name: 'rb', sizeBytes, thin: false });
  await front.api('POST', '/v1/nexus', { name: 'rb', replicas: [{ node: 'local', pool: 'p', volume: 'rb' }] });
  const ex = await front.api<{ url: string }>('POST', '/v1/nexus/rb/export', {});
  const client = cluster.nodes[0];
  // Real data on the source, written once: the rebuild and the plain copy then read the
  // same (cached) bytes, rather than the first reader paying to fault in a sparse file.
  const fill = { id: 'rebuild-fill', label: '', rw: 'write' as const, blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth };
  await nsRun(client.ns, fio, [...fioArgs({ fio, url: ex.url, row: fill }), '--thread'], { timeoutMs: 30 * 60_000 });
  // The fill leaves gigabytes dirty on n1; written back during the idle rebuild, that disk
  // traffic and kernel CPU would be charged to the rebuild but never to the plain copy.
  await nsRun(front.node.ns, 'sync', [], { timeoutMs: 10 * 60_000 });

  // Both the first rebuild and the plain copy write to never-written space on n2 (fresh pool extents, a fresh file).
  const idle = await fullRebuild(front, 'rb', peer, 'rb');
  const row = { id: 'rebuild-load', label: '', rw: 'randwrite' as const, blockSize: '4k', iodepth: 32, numjobs: 1, metric: Metric.iops };
  // --thread: fio's jobs are threads of the process we kill, not forked children that outlive it.
  const load = cluster.spawnIn(client, fio, [...fioArgs({ fio, url: ex.url, row, runtimeS: 3600 }), '--thread']);
  await sleep(2000);
  const loaded = await fullRebuild(front, 'rb', peer, 'rb').finally(() => load.kill('SIGKILL'));
  const plain = await plainCopy(cluster, front, peer, join(front.dataDir, 'pools', 'p.pool'), idle.bytes);

  // Delta: both in sync, the peer goes away for 10 s while 8 MiB is written, then returns.
  await front.api('POST', '/v1/nexus/rb/replicas', { node: peer.replica, pool: 'p', volume: 'rb' });
  await waitRebuilt(front, 'rb', peer, 30 * 60_000);
  await peer.kill();
  const gone = Date.now();

  await nsRun(client.ns, 'qemu-io', ['-f', 'raw', ex.url, '-c', 'write -P 0x5a 16M 8M', '-c', 'flush']);
  await sleep(Math.max(0, 10_000 - (Date.now() - gone)));
  const back = process.hrtime.bigint();
  await peer.restart();
  const r = await waitRebuilt(front, 'rb', peer, 120_000);
  const wall = Number(process.hrtime.bigint() - back) / 1e9;
  return {
    bytes: idle.bytes, idleMiBps: idle.mibps, loadedMiBps: loaded.mibps, plainCopyMiBps: plain,
    deltaBytes: r.lastRebuild!.bytesCopied, deltaSeconds: r.lastRebuild!.seconds, deltaWallSeconds: wall,
  };
}
