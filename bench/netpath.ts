/**
 * What the network between a pod and its volume costs: one Berth engine (a thick volume
 * in a /dev/shm pool) in a server namespace, reached by fio's libiscsi engine over
 * (a) loopback, as a hostNetwork pod would, (b) a veth pair from another namespace,
 * (c) a Linux bridge between two veths, (d) a VXLAN overlay over a veth underlay — the
 * rows of the host bench (4k random read/write QD32, 1 MiB sequential read/write QD8).
 * Paths take turns row by row in alternating order, so machine noise falls on all;
 * each figure is the median of its rounds, with its ratio to the host-network row.
 *   node bench/netpath.ts [--quick] [--runtime S] [--rounds N]
 * `netpathSection` is what `npm run bench` calls. Namespaces (and so every link and
 * address) are created here and removed at the end, pass or fail.
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Cluster, nsRun } from '../test/helpers/netns.ts';
import { fioPath, run } from '../test/helpers/tools.ts';
import { PREFILL_ROW, SINGLE_VOLUME_ROWS, Metric, type RowSpec } from './bench_rows.ts';
import { markdownTable } from './bench_table.ts';
import { fioArgs, parseFioJson, type FioResult } from './fio.ts';
import { NET_PATHS, pathPlans, urlVia, type NetPath, type PathPlan } from './netpath_topology.ts';

const MiB = 2 ** 20;
export const NETPATH_ROW_IDS = ['randread-4k-qd32', 'randwrite-4k-qd32', 'read-1m-qd8', 'write-1m-qd8'];
export const netpathRows = (): RowSpec[] => NETPATH_ROW_IDS.map((id) => SINGLE_VOLUME_ROWS.find((r) => r.id === id)!);

export interface NetpathOptions {
  fio?: string;
  quick?: boolean;
  runtimeS?: number;
  rampS?: number;
  rounds?: number;
  volumeBytes?: number;
  log?: (line: string) => void;
}

export interface NetpathResult {
  paths: Pick<PathPlan, 'path' | 'title' | 'mtu'>[];
  /** results[path][rowId]: the median round, or an error. */
  results: Record<string, Record<string, FioResult | { error: string }>>;
  runtimeS: number;
  rounds: number;
  volumeBytes: number;
}

const headline = (r: FioResult, row: RowSpec): number => (row.metric === Metric.iops ? r.iops : r.mibPerSec);

function median(runs: FioResult[], row: RowSpec): FioResult {
  return [...runs].sort((a, b) => headline(a, row) - headline(b, row))[Math.floor(runs.length / 2)];
}

export async function runNetpathBench(o: NetpathOptions = {}): Promise<NetpathResult> {
  const fio = o.fio ?? fioPath();
  if (!fio) throw new Error('fio with the libiscsi engine is not built: run scripts/build-fio.sh');
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const runtimeS = o.runtimeS ?? (o.quick ? 5 : 10);
  const rampS = o.rampS ?? (o.quick ? 1 : 2);
  const rounds = o.rounds ?? (o.quick ? 1 : 3);
  const volumeBytes = o.volumeBytes ?? (o.quick ? 256 * MiB : 1024 * MiB);
  const rows = netpathRows();
  const poolFile = `/dev/shm/berth-netpath-${process.pid}.pool`;
  // n0 serves; n1..n3 are the veth, bridge and VXLAN clients; the hub holds the bridge.
  const cluster = await Cluster.create(4);
  try {
    const [s, cv, cb, cx] = cluster.nodes.map((n) => n.ns);
    const plans = pathPlans({ server: s, clients: { veth: cv, bridge: cb, vxlan: cx }, hub: cluster.hub });
    for (const p of plans) for (const args of p.setup) await run('ip', args);
    const engine = await cluster.startEngine(cluster.nodes[0], ['--iscsi-listen', '0.0.0.0:3260', '--pool-root', '/dev/shm']);
    await engine.api('POST', '/v1/pools', { name: 'p', path: poolFile, sizeBytes: volumeBytes + 64 * MiB });
    await engine.api('POST', '/v1/pools/p/volumes', { name: 'v', sizeBytes: volumeBytes, thin: false });
    const exported = await engine.api<{ url: string }>('POST', '/v1/exports', { pool: 'p', volume: 'v', allowedInitiators: null });
    const urls = Object.fromEntries(plans.map((p) => [p.path, urlVia(exported.url, p.portalIp)])) as Record<NetPath, string>;
    log(`netpath: pre-filling ${volumeBytes / MiB} MiB over loopback`);
    await nsRun(s, fio, [...fioArgs({ fio, url: urls.host, row: PREFILL_ROW }), '--thread'], { timeoutMs: 30 * 60_000 });
    const runs: Record<string, Record<string, FioResult[]>> = {};
    const errors: Record<string, Record<string, string>> = {};
    let turn = 0;
    for (const row of rows) {
      for (let round = 0; round < rounds; round++) {
        const order = turn++ % 2 === 0 ? plans : [...plans].reverse();
        for (const p of order) {
          try {
            const r = await nsRun(p.clientNs, fio, [...fioArgs({ fio, url: urls[p.path], row, runtimeS, rampS }), '--thread'], { timeoutMs: (runtimeS + rampS + 120) * 1000 });
            const f = parseFioJson(r.stdout, row.rw);
            ((runs[p.path] ??= {})[row.id] ??= []).push(f);
            log(`netpath ${p.path} ${row.label} round ${round + 1}: ${Math.round(f.iops)} IOPS, ${f.mibPerSec.toFixed(0)} MiB/s`);
          } catch (err) {
            (errors[p.path] ??= {})[row.id] = (err as Error).message.split('\n')[0];
            log(`netpath ${p.path} ${row.label}: FAILED ${(errors[p.path][row.id])}`);
          }
        }
      }
    }
    const results: NetpathResult['results'] = {};
    for (const p of plans) {
      const stats = JSON.parse((await run('ip', ['-n', p.clientNs, '-s', '-j', 'link', 'show', 'dev', p.device])).stdout) as { stats64?: { rx?: { bytes?: number } } }[];
      log(`netpath ${p.path}: ${((stats[0]?.stats64?.rx?.bytes ?? 0) / 2 ** 30).toFixed(2)} GiB received on ${p.clientNs}/${p.device}`);
      for (const row of rows) {
        const got = runs[p.path]?.[row.id];
        (results[p.path] ??= {})[row.id] = got?.length ? median(got, row) : { error: errors[p.path]?.[row.id] ?? 'no run' };
      }
    }
    return { paths: plans.map(({ path, title, mtu }) => ({ path, title, mtu })), results, runtimeS, rounds, volumeBytes };
  } finally {
    await cluster.destroy();
    rmSync(poolFile, { force: true });
  }
}

/** Rows: paths; columns: workloads, each figure with its ratio to the host-network row (pure). */
export function netpathTable(r: NetpathResult): { header: string[]; rows: string[][] } {
  const rows = netpathRows();
  const cell = (path: string, row: RowSpec): string => {
    const c = r.results[path]?.[row.id];
    if (!c || 'error' in c) return `error: ${c?.error.slice(0, 60) ?? 'no run'}`;
    const v = headline(c, row);
    const text = row.metric === Metric.iops ? `${Math.round(v).toLocaleString('en-US')} IOPS` : `${v.toFixed(0)} MiB/s`;
    if (path === NET_PATHS[0]) return text;
    const host = r.results[NET_PATHS[0]]?.[row.id];
    return host && !('error' in host) && headline(host, row) > 0 ? `${text} (${(v / headline(host, row)).toFixed(2)}×)` : text;
  };
  return { header: ['Path', 'MTU', ...rows.map((x) => x.label)], rows: r.paths.map((p) => [p.title, String(p.mtu), ...rows.map((row) => cell(p.path, row))]) };
}

export function netpathMarkdown(r: NetpathResult): string {
  const t = netpathTable(r);
  const table = markdownTable(t.header, t.rows);
  return [
    `One engine, one ${r.volumeBytes / MiB} MiB thick volume in a /dev/shm pool, in a network namespace; fio (libiscsi, one job) in`,
    `the same namespace over loopback (the host-network row) or in another namespace over each path. ${r.runtimeS} s per row,`,
    `median of ${r.rounds} round(s), paths taking turns in alternating order; (×) is the ratio to the host-network row.`,
    '',
    table,
  ].join('\n');
}

export async function netpathSection(o: NetpathOptions = {}): Promise<string> {
  const text = await runNetpathBench(o).then(netpathMarkdown, (err: Error) => `failed: ${err.message.split('\n')[0]}`);
  return `## Network paths\n\n${text}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, runtime: { type: 'string' }, rounds: { type: 'string' } } });
  const r = await runNetpathBench({
    quick: values.quick, ...(values.runtime ? { runtimeS: Number(values.runtime) } : {}), ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
  });
  process.stdout.write(`${netpathMarkdown(r)}\n`);
}
