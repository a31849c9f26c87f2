/**
 * Shared set-up of the replication suites: engines in namespaces (test/helpers/netns.ts),
 * a pool and a replica volume on each, a nexus over them exported over iSCSI, and the
 * checks the suites make (replica states, rebuild stats, bytes of the replica volumes).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from '../../src/pool/index.ts';
import { Cluster, nsRun, type NetNode, type NodeEngine } from '../helpers/netns.ts';
import { sleep } from '../helpers/tools.ts';

export const POOL = 'p';
export const MiB = 1024 * 1024;

export interface ReplicaDoc {
  name: string; node: string; state: string; missingBytes: number;
  rebuild: { percent: number; bytesCopied: number } | null;
  lastRebuild: { outcome: string; bytesCopied: number; bytesTotal: number; seconds: number } | null;
}
export interface NexusDoc { name: string; state: string; generation: number; uuid: string; replicas: ReplicaDoc[] }

/** Creates the pool and a volume on each engine. */
export async function prepareReplicas(engines: NodeEngine[], volume: string, sizeBytes: number): Promise<void> {
  for (const e of engines) {
    const pools = await e.api<{ pools: Array<{ name: string }> }>('GET', '/v1/pools');
    if (!pools.pools.some((p) => p.name === POOL)) await e.api('POST', '/v1/pools', { name: POOL, sizeBytes: 4 * sizeBytes + 256 * MiB });
    await e.api('POST', `/v1/pools/${POOL}/volumes`, { name: volume, sizeBytes });
  }
}

/** A nexus on `front` over the volume on each of `replicas` (local when it is `front`), exported. */
export async function createNexus(front: NodeEngine, replicas: NodeEngine[], volume: string, extra: Record<string, unknown> = {}): Promise<{ url: string; nexus: NexusDoc }> {
  const nexus = await front.api<NexusDoc>('POST', '/v1/nexus', {
    name: volume, replicas: replicas.map((e) => ({ node: e === front ? 'local' : e.replica, pool: POOL, volume })), ...extra,
  });
  const ex = await front.api<{ url: string }>('POST', `/v1/nexus/${volume}/export`, {});
  return { url: ex.url, nexus };
}

export function describe(front: NodeEngine, volume: string): Promise<NexusDoc> {
  return front.api<NexusDoc>('GET', `/v1/nexus/${volume}`);
}

export function replicaOn(doc: NexusDoc, e: NodeEngine): ReplicaDoc {
  const r = doc.replicas.find((x) => x.node === e.replica);
  if (!r) throw new Error(`no replica on ${e.replica} in ${JSON.stringify(doc)}`);
  return r;
}

/** Polls until `pred` holds for the nexus; fails with the last document after `timeoutMs`. */
export async function waitFor(front: NodeEngine, volume: string, what: string, pred: (d: NexusDoc) => boolean, timeoutMs = 60_000): Promise<NexusDoc> {
  const end = Date.now() + timeoutMs;
  let last: NexusDoc | undefined;
  while (Date.now() < end) {
    last = await describe(front, volume);
    if (pred(last)) return last;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

export const allOnline = (d: NexusDoc): boolean => d.state === 'online' && d.replicas.every((r) => r.state === 'online');

/** sha256 of a replica volume read straight from its pool file (its engine must be stopped). */
export async function volumeDigest(e: NodeEngine, volume: string): Promise<string> {
  const pool = await Pool.import(join(e.dataDir, 'pools', `${POOL}.pool`));
  try {
    const v = pool.openVolume(volume);
    const h = createHash('sha256');
    const step = 4 * MiB / v.blockSize;
    for (let lba = 0; lba < v.blockCount; lba += step) h.update(await v.read(lba, Math.min(step, v.blockCount - lba)));
    return h.digest('hex');
  } finally {
    await pool.close();
  }
}

/** qemu-io in a namespace against an iSCSI URL; resolves with its output. */
export async function qemuIo(node: NetNode, url: string, cmds: string[], check = true): Promise<{ out: string; code: number }> {
  const r = await nsRun(node.ns, 'qemu-io', ['-f', 'raw', url, ...cmds.flatMap((c) => ['-c', c])], { timeoutMs: 120_000, check: false });
  const out = r.stdout + r.stderr;
  if (check && (r.code !== 0 || /error|fail|mismatch/i.test(out))) throw new Error(`qemu-io failed (${r.code}):\n${out.slice(-3000)}`);
  return { out, code: r.code };
}

export { Cluster, sleep, type NodeEngine, type NetNode };
