/**
 * Replicated-volume benchmark: `node bench/replicated.ts [--quick]`. Nodes are network
 * namespaces on this machine (test/helpers/netns.ts): n0 runs fio (libiscsi), n1 the
 * nexus and its local replica, n2 and n3 remote replicas. Measures 4k random read/write
 * QD32 and 1 MiB sequential read/write for 1, 2 and 3 replicas, rebuild rate (idle and
 * under 4k random-write load) against a plain dd|socat copy of the same bytes between
 * the same two namespaces, and a delta resync; prints a markdown table with the ratios
 * issue 3 sets bars on. `runReplicatedBench` is what the main bench runner can call.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, nsRun, type NodeEngine } from '../test/helpers/netns.ts';
import { buildDir } from '../test/helpers/tools.ts';
import { fioArgs, parseFioJson, type FioResult } from './fio.ts';
import { Metric, type RowSpec } from './bench_rows.ts';
import { measureRebuild, type RebuildFigures } from './replicated_rebuild.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const REPLICATED_ROWS: RowSpec[] = [
  { id: 'randread-4k-qd32', label: '4k randread QD32', rw: 'randread', blockSize: '4k', iodepth: 32, numjobs: 1, metric: Metric.iops },
  { id: 'randwrite-4k-qd32', label: '4k randwrite QD32', rw: 'randwrite', blockSize: '4k', iodepth: 32, numjobs: 1, metric: Metric.iops },
  { id: 'read-1m-qd8', label: '1 MiB seq read QD8', rw: 'read', blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth },
  { id: 'write-1m-qd8', label: '1 MiB seq write QD8', rw: 'write', blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth },
];

export interface ReplicatedOptions {
  quick?: boolean;
  /** Size of the rebuild rows' volume; default 1 GiB quick, 4 GiB full (the issue's figure). */
  rebuildBytes?: number;
  fio?: string;
  log?: (line: string) => void;
}

export interface ReplicatedResult {
  /** results[rowId][replicas] */
  results: Record<string, Record<number, FioResult>>;
  rebuild: RebuildFigures;
  markdown: string;
}

/** The run with the median headline figure (IOPS or bandwidth). */
function median(runs: FioResult[], row: RowSpec): FioResult {
  const key = (r: FioResult): number => (row.metric === Metric.iops ? r.iops : r.mibPerSec);
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor(runs.length / 2)];
}

async function fioRow(cluster: Cluster, fio: string, url: string, row: RowSpec, runtimeS: number): Promise<FioResult> {
  const r = await nsRun(cluster.nodes[0].ns, fio, [...fioArgs({ fio, url, row, runtimeS, rampS: 1 }), '--thread'], { timeoutMs: (runtimeS + 120) * 1000 });
  return parseFioJson(r.stdout, row.rw);
}

export async function runReplicatedBench(opts: ReplicatedOptions = {}): Promise<ReplicatedResult> {
  const fio = opts.fio ?? join(buildDir, 'fio', 'fio');
  if (!existsSync(fio)) throw new Error(`${fio} is missing: run scripts/build-fio.sh`);
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const volBytes = opts.quick ? 256 * MiB : 1 * GiB;
  const rebuildBytes = opts.rebuildBytes ?? (opts.quick ? 1 * GiB : 4 * GiB);
  const runtimeS = opts.quick ? 5 : 20;
  const repeats = opts.quick ? 3 : 5;
  const cluster = await Cluster.create(4);
  try {
    const engines: NodeEngine[] = [];
    for (const n of cluster.nodes.slice(1)) engines.push(await cluster.startEngine(n));
    for (const e of engines) await e.api('POST', '/v1/pools', { name: 'p', sizeBytes: 3 * volBytes + rebuildBytes + 512 * MiB });
    // Every nexus exists for the whole run and rows alternate between them, so a burst of
    // load from elsewhere on the machine hits all replica counts alike.
    const urls: Record<number, string> = {};
    for (let k = 1; k <= 3; k++) {
      const name = `bench-r${k}`;
      const members = engines.slice(0, k);
      for (const e of members) await e.api('POST', '/v1/pools/p/volumes', { name, sizeBytes: volBytes, thin: false });
      await engines[0].api('POST', '/v1/nexus', { name, replicas: members.map((e, i) => ({ node: i === 0 ? 'local' : e.replica, pool: 'p', volume: name })) });
      urls[k] = (await engines[0].api<{ url: string }>('POST', `/v1/nexus/${name}/export`, {})).url;
      // Write every block once so reads hit data, not holes.
      await nsRun(cluster.nodes[0].ns, fio, [...fioArgs({ fio, url: urls[k], row: REPLICATED_ROWS[3] }), '--thread'], { timeoutMs: 30 * 60_000 });
    }
    const results: Record<string, Record<number, FioResult>> = {};
    for (const row of REPLICATED_ROWS) {
      const runs: Record<number, FioResult[]> = { 1: [], 2: [], 3: [] };
      for (let rep = 0; rep < repeats; rep++) {
        for (let k = 1; k <= 3; k++) runs[k].push(await fioRow(cluster, fio, urls[k], row, runtimeS));
      }
      for (let k = 1; k <= 3; k++) {
        const r = median(runs[k], row);
        (results[row.id] ??= {})[k] = r;
        log(`${k} replica(s) ${row.label}: ${Math.round(r.iops)} IOPS, ${r.mibPerSec.toFixed(1)} MiB/s (median of ${repeats})`);
      }
    }
    for (let k = 1; k <= 3; k++) {
      await engines[0].api('DELETE', `/v1/nexus/bench-r${k}/export`);
      await engines[0].api('DELETE', `/v1/nexus/bench-r${k}`);
    }
    log(`rebuild of ${rebuildBytes / GiB} GiB ...`);
    const rebuild = await measureRebuild(cluster, engines[0], engines[1], rebuildBytes, fio);
    log(`rebuild idle ${rebuild.idleMiBps.toFixed(0)} MiB/s, under load ${rebuild.loadedMiBps.toFixed(0)} MiB/s, plain copy ${rebuild.plainCopyMiBps.toFixed(0)} MiB/s`);
    return { results, rebuild, markdown: replicatedMarkdown(results, rebuild, opts.quick ?? false) };
  } finally {
    await cluster.destroy();
  }
}

const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');

/** The table for docs/benchmarks.md: rows by workload, columns by replica count, then rebuild and the bars. */
export function replicatedMarkdown(results: Record<string, Record<number, FioResult>>, rb: RebuildFigures, quick: boolean): string {
  const fig = (row: RowSpec, r: FioResult | undefined): string => {
    if (!r) return '—';
    return row.metric === Metric.iops ? `${Math.round(r.iops).toLocaleString('en-US')} IOPS` : `${r.mibPerSec.toFixed(0)} MiB/s`;
  };
  const lines = [
    `Replicated volumes (${quick ? 'quick run: 5 s rows, median of 3' : 'full run: 20 s rows, median of 5'}, rows alternating between replica counts; nexus on n1 with its local replica, remote replicas on n2/n3, fio libiscsi from n0; veth MTU 65535)`,
    '',
    '| Workload | 1 replica | 2 replicas | 3 replicas |',
    '|---|---:|---:|---:|',
    ...REPLICATED_ROWS.map((row) => `| ${row.label} | ${[1, 2, 3].map((k) => fig(row, results[row.id]?.[k])).join(' | ')} |`),
    '',
    '| Rebuild / resync | Figure |',
    '|---|---:|',
    `| Full rebuild of ${(rb.bytes / GiB).toFixed(1)} GiB, idle | ${rb.idleMiBps.toFixed(0)} MiB/s |`,
    `| Full rebuild, under 4k randwrite QD32 | ${rb.loadedMiBps.toFixed(0)} MiB/s |`,
    `| Plain copy, same bytes, dd \\| socat n1→n2 | ${rb.plainCopyMiBps.toFixed(0)} MiB/s |`,
    `| Delta resync after 10 s away, 8 MiB written | ${(rb.deltaBytes / MiB).toFixed(1)} MiB copied in ${rb.deltaSeconds.toFixed(2)} s (${rb.deltaWallSeconds.toFixed(1)} s restart → online) |`,
    '',
    '| Bar (issue 3) | Ratio | Target |',
    '|---|---:|---:|',
    `| 2-replica randwrite / 1-replica | ${ratio(results['randwrite-4k-qd32']?.[2]?.iops ?? 0, results['randwrite-4k-qd32']?.[1]?.iops ?? 0)} | ≥ 0.70× |`,
    `| 2-replica randread / 1-replica | ${ratio(results['randread-4k-qd32']?.[2]?.iops ?? 0, results['randread-4k-qd32']?.[1]?.iops ?? 0)} | ≥ 1.00× |`,
    `| Rebuild (idle) / plain copy | ${ratio(rb.idleMiBps, rb.plainCopyMiBps)} | ≥ 0.80× |`,
  ];
  return lines.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const r = await runReplicatedBench({ quick });
  process.stdout.write(r.markdown);
}
