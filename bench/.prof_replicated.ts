import { readFileSync } from 'node:fs';
// Temporary profiling driver (not part of the tree): 2-replica nexus, fio randwrite/randread, engines under --cpu-prof.
import { join } from 'node:path';
import { Cluster, nsRun } from '../test/helpers/netns.ts';
import { buildDir } from '../test/helpers/tools.ts';
import { fioArgs } from './fio.ts';
import { REPLICATED_ROWS } from './replicated.ts';
const MiB = 1024 * 1024;
const fio = join(buildDir, 'fio', 'fio');
const rw = process.argv[2] ?? 'randwrite';
const k = Number(process.argv[3] ?? 2);
const cluster = await Cluster.create(3);
try {
  if (process.env.PROF_DIR) process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${process.env.PROF_DIR}`;
  const engines = [await cluster.startEngine(cluster.nodes[1]), await cluster.startEngine(cluster.nodes[2])];
  delete process.env.NODE_OPTIONS;
  for (const e of engines) await e.api('POST', '/v1/pools', { name: 'p', sizeBytes: 512 * MiB });
  const members = engines.slice(0, k);
  for (const e of members) await e.api('POST', '/v1/pools/p/volumes', { name: 'v', sizeBytes: 256 * MiB, thin: false });
  await engines[0].api('POST', '/v1/nexus', { name: 'v', replicas: members.map((e, i) => ({ node: i === 0 ? 'local' : e.replica, pool: 'p', volume: 'v' })) });
  const url = (await engines[0].api<{ url: string }>('POST', '/v1/nexus/v/export', {})).url;
  const row = REPLICATED_ROWS.find((r) => r.rw === rw)!;
  const cpu = (pid: number): number => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
  const c0 = engines.map((e) => cpu(e.pid));
  const r = await nsRun(cluster.nodes[0].ns, fio, [...fioArgs({ fio, url, row, runtimeS: 8, rampS: 1 }), '--thread']);
  const m = /"iops"\s*:\s*([0-9.]+)/g; let x; const all = []; while ((x = m.exec(r.stdout))) all.push(Number(x[1]));
  const c1 = engines.map((e) => cpu(e.pid));
  const iops = all.filter((v) => v > 0)[0];
  console.log(rw, k, 'iops', Math.round(iops), 'cpu-us/io front', ((c1[0] - c0[0]) * 1e4 / (iops * 9)).toFixed(1), 'replica', ((c1[1] - c0[1]) * 1e4 / (iops * 9)).toFixed(1));
  for (const e of engines) await e.stop();
} finally { await cluster.destroy(); }
