/**
 * `kubectl berth bench --class C`: creates the bench's PVC and Jobs through the user's
 * kubectl, runs the Jobs one at a time (Berth side first, so the local side can be
 * pinned to the node the Berth volume was attached to), reads their logs, and removes
 * everything it created — also when a Job fails, the bench throws, or on Ctrl-C.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubectl, kubectlJson, KubectlError } from './kubectl_cluster.ts';
import {
  RUN_LABEL, benchClaim, benchJob, claimSizeFor, fioCells, fioRows, jobDeadlineS, jobName, jobState, parseJobLog, pgbenchCells, pgbenchRows,
  DEFAULT_BENCH_IMAGE, type BenchSide, type BenchTool, type ClusterBenchPlan, type JobLog, type JobState,
} from './kubectl_bench.ts';
import type { Command } from 'commander';
import { benchReportTable, type BenchFlags, type HostBenchReport } from './commands_bench.ts';
import { printDocument, type OutputFormat } from './cli_output.ts';
import { parseSize } from './sizes.ts';
import { BerthError } from '../util/errors.ts';

export interface ClusterBenchReport extends HostBenchReport {
  cluster: {
    namespace: string; storageClass: string; claimSize: string; image: string; hostDir: string;
    /** The node both sides ran on. */
    node?: string;
    /** O_DIRECT per side (false: that filesystem refused it and fio ran buffered). */
    direct: Partial<Record<BenchSide, boolean>>;
    jobs: string[];
  };
}

export interface ClusterBenchOptions {
  storageClass: string; namespace: string; image: string; hostDir: string; node?: string;
  fileBytes: number; runtimeS: number; rampS: number; fio: boolean; pgbench?: { scale: number; clients: number };
  log: (line: string) => void;
  /** How often Job status is read (tests shorten it). */
  pollMs?: number;
}

export function planOf(o: ClusterBenchOptions, runId = `berth-bench-${randomBytes(3).toString('hex')}`): ClusterBenchPlan {
  return {
    runId, namespace: o.namespace, storageClass: o.storageClass, image: o.image, claimSize: claimSizeFor(o.fileBytes, o.pgbench?.scale),
    fileBytes: o.fileBytes, runtimeS: o.runtimeS, rampS: o.rampS, hostDir: o.hostDir, fio: o.fio, ...(o.pgbench ? { pgbench: o.pgbench } : {}),
  };
}

function kubectlApply(obj: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', ['apply', '-f', '-'], { timeout: 60_000 }, (err, _out, stderr) => {
      if (err) reject(new KubectlError(`kubectl apply: ${(stderr || err.message).trim().split('\n')[0]}`));
      else resolve();
    });
    child.stdin?.end(JSON.stringify(obj));
  });
}

/** Everything labelled with this run: Jobs first (their pods hold the PVC), then the PVC. */
async function removeAll(p: ClusterBenchPlan, log: (line: string) => void): Promise<void> {
  const sel = ['-n', p.namespace, '-l', `${RUN_LABEL}=${p.runId}`, '--ignore-not-found', '--wait=true'];
  for (const [kind, extra] of [['job', ['--cascade=foreground', '--timeout=180s']], ['pvc', ['--timeout=300s']]] as const) {
    await kubectl(['delete', kind, ...sel, ...extra], 330_000).catch((err: Error) => { log(`cleanup: ${err.message}`); });
  }
}

interface JobOutcome { log: JobLog; failure?: string; node?: string }

async function runJob(p: ClusterBenchPlan, tool: BenchTool, side: BenchSide, node: string | undefined, o: ClusterBenchOptions): Promise<JobOutcome> {
  const name = jobName(p, tool, side);
  await kubectlApply(benchJob(p, tool, side, node));
  o.log(`${name}: started${node ? ` on ${node}` : ''}`);
  const end = Date.now() + (jobDeadlineS(p, tool) + 120) * 1000;
  let st: JobState = { state: 'running' };
  let seenNode: string | undefined;
  let lastWaiting: string | undefined;
  while (st.state === 'running') {
    if (Date.now() > end) {
      st = { state: 'failed', reason: `no result after ${jobDeadlineS(p, tool) + 120} s` };
      break;
    }
    await sleep(o.pollMs ?? 2000);
    const [job, pods] = await Promise.all([
      kubectlJson(['get', 'job', '-n', p.namespace, name]),
      kubectlJson(['get', 'pods', '-n', p.namespace, '-l', `job-name=${name}`]) as Promise<{ items?: unknown[] }>,
    ]).catch(() => [undefined, undefined] as const);
    if (job === undefined) continue;
    st = jobState(job as Parameters<typeof jobState>[0], (pods?.items ?? []) as Parameters<typeof jobState>[1], p.image);
    if (st.state === 'running' && st.waiting !== undefined && st.waiting !== lastWaiting) o.log(`${name}: ${st.waiting}`);
    lastWaiting = st.state === 'running' ? st.waiting : undefined;
    if (st.node !== undefined && seenNode === undefined) {
      seenNode = st.node;
      o.log(`${name}: running on ${seenNode}`);
    }
  }
  const text = await kubectl(['logs', '-n', p.namespace, `job/${name}`], 120_000).catch(() => '');
  o.log(`${name}: ${st.state === 'failed' ? `failed: ${st.reason}` : 'done'}`);
  return { log: parseJobLog(text), ...(st.state === 'failed' ? { failure: st.reason } : {}), node: st.node ?? seenNode };
}

export async function runClusterBench(o: ClusterBenchOptions, plan = planOf(o)): Promise<ClusterBenchReport> {
  if (!o.fio && !o.pgbench) throw new BerthError('INVALID_ARGUMENT', 'nothing to run: both fio and pgbench are switched off');
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaning ??= removeAll(plan, o.log));
  const onSignal = (signal: NodeJS.Signals): void => {
    o.log(`${signal}: removing the bench's Jobs and PVC (${RUN_LABEL}=${plan.runId})`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const report: ClusterBenchReport = {
    runtimeS: plan.runtimeS, rows: [],
    cluster: { namespace: plan.namespace, storageClass: plan.storageClass, claimSize: plan.claimSize, image: plan.image, hostDir: plan.hostDir, direct: {}, jobs: [] },
  };
  try {
    // A class that does not exist would leave the PVC pending until the Jobs' deadlines.
    await kubectl(['get', 'storageclass', plan.storageClass, '-o', 'name']).catch(() => {
      throw new BerthError('NOT_FOUND', `no StorageClass '${plan.storageClass}' (kubectl get storageclass lists them)`);
    });
    await kubectlApply(benchClaim(plan));
    o.log(`PVC ${plan.namespace}/${plan.runId}-berth: ${plan.claimSize} of class ${plan.storageClass}`);
    let node = o.node;
    const tools: BenchTool[] = [...(plan.fio ? ['fio' as const] : []), ...(plan.pgbench ? ['pgbench' as const] : [])];
    for (const tool of tools) {
      const out: Partial<Record<BenchSide, JobOutcome>> = {};
      for (const side of ['berth', 'local'] as const) {
        const r = await runJob(plan, tool, side, node, o);
        report.cluster.jobs.push(jobName(plan, tool, side));
        // The local side goes where the Berth volume was used: same CPU, same network.
        node ??= r.node;
        out[side] = r;
        if (tool === 'fio' && r.log.direct !== undefined) report.cluster.direct[side] = r.log.direct;
      }
      const [b, l] = [out.berth!, out.local!];
      if (tool === 'fio') {
        report.rows = fioRows(fioCells(b.log, b.failure), fioCells(l.log, l.failure));
        report.fio = { binary: `fio in ${plan.image}`, sizeBytes: plan.fileBytes, localFile: plan.hostDir, direct: report.cluster.direct.local ?? true };
      } else {
        report.pgbench = pgbenchRows(pgbenchCells(b.log, b.failure), pgbenchCells(l.log, l.failure));
        report.pgbenchSetup = { scale: plan.pgbench!.scale, clients: plan.pgbench!.clients };
      }
    }
    if (node !== undefined) report.cluster.node = node;
    return report;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    o.log('removing the bench\'s Jobs and PVC');
    await cleanup();
  }
}

/** The in-cluster flags, beside the host bench's (--size, --runtime, --ramp, --pgbench-scale, --pgbench-clients are shared). */
export function addClusterBenchOptions(c: Command): Command {
  return c
    .option('--class <storage-class>', 'run in the cluster: fio and pgbench Jobs on a PVC of this class and on a hostPath directory of the same node')
    .option('--image <ref>', 'image with fio and PostgreSQL for the Jobs (deploy/bench/build-image.sh builds it)', DEFAULT_BENCH_IMAGE)
    .option('--host-dir <path>', 'node directory for the local side (hostPath; the bench works and cleans up in a subdirectory)', '/var/tmp/berth-bench')
    .option('--node <node>', 'run both sides on this node (default: wherever the Berth side is scheduled)')
    .option('--quick', 'a smoke run: 3 s rows, 1 s ramp, a 64 MiB file, pgbench scale 1 with 2 clients (flags given still win)')
    .option('--no-fio-rows', 'with --class: skip the fio Jobs')
    .option('--no-pgbench-rows', 'with --class: skip the pgbench Jobs');
}

export interface ClusterBenchFlags extends BenchFlags { class?: string; image: string; hostDir: string; node?: string; quick?: boolean; fioRows: boolean; pgbenchRows: boolean }

const QUICK: Partial<Record<keyof BenchFlags, string>> = { runtime: '3', ramp: '1', size: '64MiB', pgbenchScale: '1', pgbenchClients: '2' };

function whole(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new BerthError('INVALID_ARGUMENT', `${flag} must be a whole number from ${min} to ${max}, not '${text}'`);
  return n;
}

/** Flags → options; `defaulted(key)` says the user did not give that flag (so --quick may replace it). */
export function clusterBenchOptions(f: ClusterBenchFlags, namespace: string, defaulted: (key: string) => boolean, log: (line: string) => void): ClusterBenchOptions {
  const v = (k: keyof BenchFlags): string => (f.quick && defaulted(k) && QUICK[k] !== undefined ? QUICK[k] : String(f[k]));
  if (!f.class) throw new BerthError('INVALID_ARGUMENT', '--class needs a StorageClass name');
  return {
    storageClass: f.class, namespace, image: f.image, hostDir: f.hostDir, ...(f.node ? { node: f.node } : {}),
    fileBytes: parseSize(v('size')), runtimeS: whole(v('runtime'), '--runtime', 1, 3600), rampS: whole(v('ramp'), '--ramp', 0, 3600),
    fio: f.fioRows, ...(f.pgbenchRows ? { pgbench: { scale: whole(v('pgbenchScale'), '--pgbench-scale', 1, 10_000), clients: whole(v('pgbenchClients'), '--pgbench-clients', 1, 10_000) } } : {}),
    log,
  };
}

export function printClusterBenchReport(format: OutputFormat, r: ClusterBenchReport): void {
  if (format !== 'table') {
    printDocument(format, r);
    return;
  }
  const c = r.cluster;
  const direct = (side: BenchSide): string => (c.direct[side] === false ? 'buffered (no O_DIRECT there)' : 'O_DIRECT');
  process.stdout.write(benchReportTable(r) + '\n');
  process.stdout.write(`Berth: PVC of class ${c.storageClass} (${c.claimSize}); Local: hostPath ${c.hostDir}; both on node ${c.node ?? '(unknown)'}, image ${c.image}\n`);
  if (r.fio) process.stdout.write(`fio ${r.runtimeS} s per row on a ${r.fio.sizeBytes}-byte file (Berth ${direct('berth')}, local ${direct('local')}); ratio on IOPS (4k) or MiB/s (1 MiB)\n`);
  if (r.pgbenchSetup) process.stdout.write(`pgbench ${r.runtimeS} s per row, scale ${r.pgbenchSetup.scale}, ${r.pgbenchSetup.clients} clients; ratio on tps\n`);
  process.stdout.write('compare only within one run\n');
}
