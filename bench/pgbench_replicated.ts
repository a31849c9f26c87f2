/**
 * pgbench on a replicated volume: two nodes in network namespaces (test/helpers/netns.ts),
 * the nexus on n0 with its local replica, the second replica on n1 over the replica
 * protocol. This machine's root namespace joins the nodes' bridge through a veth pair of
 * its own, so qemu-storage-daemon, the loop device, ext4 and PostgreSQL run here as on
 * a node that attaches a volume served by another. A 1-replica nexus on the same engine
 * is the baseline; rounds alternate between the two. TPC-B-like only (select-only
 * reads from the page cache and never reaches the replicas).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, type NodeEngine } from '../test/helpers/netns.ts';
import { run } from '../test/helpers/tools.ts';
import { interleave, volumeBytesFor, type PgbenchOptions, type PgContender } from './pgbench_rounds.ts';
import { mountIscsi, type Mounted } from './pgbench_attach.ts';
import { PgCluster } from './pgbench_pg.ts';
import { PG_MODES, pgTable } from './pgbench_table.ts';

/** Adds this namespace to the cluster's bridge as `<subnet>.250`; returns the undo. */
async function joinBridge(cluster: Cluster): Promise<() => Promise<void>> {
  const tag = String(process.pid % 100_000);
  const local = `bpg${tag}`;
  const peer = `bpgh${tag}`;
  const ip = cluster.nodes[0].ip.replace(/\.\d+$/, '.250');
  await run('ip', ['link', 'add', local, 'mtu', '65535', 'type', 'veth', 'peer', 'name', peer, 'netns', cluster.hub, 'mtu', '65535']);
  const undo = (): Promise<void> => run('ip', ['link', 'del', local], { check: false }).then(() => undefined);
  try {
    await run('ip', ['-n', cluster.hub, 'link', 'set', peer, 'master', 'br0', 'up']);
    await run('ip', ['addr', 'add', `${ip}/24`, 'dev', local]);
    await run('ip', ['link', 'set', local, 'up']);
  } catch (err) {
    await undo();
    throw err;
  }
  return undo;
}

export async function runPgbenchReplicated(o: PgbenchOptions, bin: string): Promise<string> {
  const size = volumeBytesFor(o.scale);
  mkdirSync(o.dir, { recursive: true });
  const scratch = mkdtempSync(join(o.dir, 'berth-pgbench-r-'));
  chmodSync(scratch, 0o755);
  const cluster = await Cluster.create(2);
  let leave: (() => Promise<void>) | undefined;
  const mounts: Mounted[] = [];
  const cs: PgContender[] = [];
  try {
    leave = await joinBridge(cluster);
    const engines: NodeEngine[] = [];
    for (const n of cluster.nodes) engines.push(await cluster.startEngine(n));
    await engines[0].api('POST', '/v1/pools', { name: 'p', sizeBytes: 2 * size + 2 ** 30 });
    await engines[1].api('POST', '/v1/pools', { name: 'p', sizeBytes: size + 2 ** 30 });
    for (const k of [1, 2]) {
      const name = `pg-r${k}`;
      const members = engines.slice(0, k);
      for (const e of members) await e.api('POST', '/v1/pools/p/volumes', { name, sizeBytes: size, thin: false });
      await engines[0].api('POST', '/v1/nexus', { name, replicas: members.map((e, i) => ({ node: i === 0 ? 'local' : e.replica, pool: 'p', volume: name })) });
      const { url } = await engines[0].api<{ url: string }>('POST', `/v1/nexus/${name}/export`, {});
      o.log(`pgbench: ${k} replica(s): attach ${url}, mkfs.ext4, initdb, pgbench -i -s ${o.scale}`);
      const m = await mountIscsi(url, scratch, `pg${process.pid}-r${k}`);
      mounts.push(m);
      cs.push({ name: `${k} replica${k > 1 ? 's' : ''}`, pg: await PgCluster.create(bin, m.dir, o.scale), enginePids: members.map((e) => e.pid) });
    }
    const results = await interleave(cs, PG_MODES.filter((m) => m.tpcb), o.rounds, o.runtimeS, o.log);
    return [
      'Nexus on n0 with its local replica, the second replica on n1 (network namespaces, veth MTU 65535); this',
      'namespace attaches over a veth of its own. Engine CPU counts both engines for 2 replicas.', '',
      pgTable(results, [cs[0].name, cs[1].name], [{ subject: cs[1].name, base: cs[0].name }], cs[1].name),
    ].join('\n');
  } finally {
    for (const c of cs) await c.pg.stop();
    for (const m of mounts.reverse()) await m.unmount().catch((err: Error) => o.log(`pgbench: unmount ${m.dir}: ${err.message.split('\n')[0]}`));
    await cluster.destroy();
    await leave?.();
    rmSync(scratch, { recursive: true, force: true });
  }
}
