/**
 * `kubectl berth bench --class C`, the pure part: the objects it creates (a PVC of the
 * class, and Jobs that run fio and pgbench on that PVC and on a hostPath directory of
 * the same node), the shell each Job runs, and reading the Jobs' logs back into the
 * host bench's rows. fio's arguments, its JSON parsing, pgbench's tps and the ratio rows
 * are the host bench's own (host_bench.ts, bench_pgbench.ts), so both measure alike.
 */
import type { FioResult } from '../../bench/fio.ts';
import { parseFioJson } from '../../bench/fio.ts';
import { PREFILL_ROW } from '../../bench/bench_rows.ts';
import { benchRow, hostBenchRows, localFioArgs, type BenchCell, type BenchRow } from './host_bench.ts';
import { PGBENCH_MODES, parseTps, pgbenchRow, type PgCell, type PgbenchRow } from './bench_pgbench.ts';

export type BenchSide = 'berth' | 'local';
export type BenchTool = 'fio' | 'pgbench';

export interface ClusterBenchPlan {
  /** Names every object (`<runId>-fio-berth`, …) and labels them for cleanup. */
  runId: string;
  namespace: string;
  storageClass: string;
  image: string;
  /** The Berth PVC's request, a Kubernetes quantity. */
  claimSize: string;
  /** Bytes of the fio file on each side. */
  fileBytes: number;
  runtimeS: number;
  rampS: number;
  /** The node directory (hostPath) the local side works in. */
  hostDir: string;
  fio: boolean;
  pgbench?: { scale: number; clients: number };
}

/** deploy/bench/build-image.sh's default tag. */
export const DEFAULT_BENCH_IMAGE = 'berth-bench:dev';

/** Where each Job mounts its side; every Job works in a directory of its own under it. */
export const MOUNT = '/bench';
export const RUN_LABEL = 'bench.berth.io/run';
const MARK = '@@berth-bench';

export const jobName = (p: ClusterBenchPlan, tool: BenchTool, side: BenchSide): string => `${p.runId}-${tool}-${side}`;
export const claimName = (p: ClusterBenchPlan): string => `${p.runId}-berth`;

/** The PVC request: the fio file and pgbench's data (≈ 16 MB a scale unit, doubled for WAL and indexes) with room for the filesystem. */
export function claimSizeFor(fileBytes: number, pgbenchScale: number | undefined): string {
  const need = fileBytes + (pgbenchScale ?? 0) * 32 * 2 ** 20 + 256 * 2 ** 20;
  return `${Math.max(1, Math.ceil(need / 2 ** 30))}Gi`;
}

const labels = (p: ClusterBenchPlan): Record<string, string> => ({ 'app.kubernetes.io/managed-by': 'kubectl-berth-bench', [RUN_LABEL]: p.runId });

export function benchClaim(p: ClusterBenchPlan): object {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim',
    metadata: { name: claimName(p), namespace: p.namespace, labels: labels(p) },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: p.storageClass, volumeMode: 'Filesystem', resources: { requests: { storage: p.claimSize } } },
  };
}

/** Single-quoted for sh. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Prints the failure marker with the tool's last words (from $t/err) and ends the script. */
const failWith = (what: string): string => `{ echo "${MARK} fail ${what}: $(tail -n 2 $t/err | tr '\\n' ' ')"; exit 1; }`;

/**
 * fio: pre-fill the file (O_DIRECT, or buffered where the filesystem refuses it, and the
 * log says which), then each row between markers with fio's JSON, then remove the file.
 */
export function fioScript(p: ClusterBenchPlan, side: BenchSide, mount = MOUNT): string {
  const dir = `${mount}/${p.runId}-fio-${side}`;
  const file = `${dir}/fio.img`;
  // fio's arguments as the host bench builds them; --direct is chosen at run time.
  const args = (run: Parameters<typeof localFioArgs>[1]): string => localFioArgs(file, run, true)
    .map((a) => (a === '--direct=1' ? '--direct=$direct' : shQuote(a))).join(' ');
  const prefill = args({ row: PREFILL_ROW, sizeBytes: p.fileBytes });
  const lines = [
    'set -u',
    `dir=${shQuote(dir)}`,
    't=$(mktemp -d); trap \'rm -rf "$dir" "$t"\' EXIT',
    `mkdir -p "$dir" 2>$t/err || ${failWith('mkdir')}`,
    'direct=1',
    `if ! fio ${prefill} >$t/out 2>$t/err; then direct=0; fio ${prefill} >$t/out 2>$t/err || ${failWith('pre-fill')}; fi`,
    `echo "${MARK} direct=$direct"`,
  ];
  for (const row of hostBenchRows()) {
    const a = args({ row, runtimeS: p.runtimeS, rampS: p.rampS, sizeBytes: p.fileBytes });
    lines.push(`echo "${MARK} begin ${row.id}"`, `fio ${a} >$t/out 2>$t/err; rc=$?; cat $t/out; [ $rc = 0 ] || tail -n 3 $t/err`, `echo "${MARK} end ${row.id} rc=$rc"`);
  }
  return lines.join('\n');
}

/** pgbench: a throw-away PostgreSQL in the side's directory (Unix socket only), initialized, each mode between markers. */
export function pgbenchScript(p: ClusterBenchPlan, side: BenchSide, mount = MOUNT): string {
  const pg = p.pgbench ?? { scale: 1, clients: 1 };
  const dir = `${mount}/${p.runId}-pgbench-${side}`;
  const lines = [
    'set -u',
    `dir=${shQuote(dir)}; data="$dir/data"; t=$(mktemp -d); sock=$(mktemp -d)`,
    'PG=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)',
    'as_pg() { runuser -u postgres -- "$@"; }',
    'stop() { as_pg "$PG/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1; rm -rf "$dir" "$t" "$sock"; }',
    // PostgreSQL refuses to run as root and wants its data directory to itself.
    'mkdir -p "$dir" "$sock" && chown postgres:postgres "$dir" "$sock" && trap stop EXIT',
    `as_pg "$PG/initdb" -D "$data" -A trust -U postgres --no-instructions >$t/out 2>$t/err || ${failWith('initdb')}`,
    `as_pg "$PG/pg_ctl" -D "$data" -l "$dir/log" -w -t 120 -o "-c listen_addresses='' -k $sock" start >$t/out 2>$t/err || ${failWith('pg_ctl start')}`,
    `as_pg "$PG/pgbench" -h "$sock" -U postgres -i -q -s ${pg.scale} postgres >$t/out 2>$t/err || ${failWith('pgbench -i')}`,
  ];
  for (const m of PGBENCH_MODES) {
    const a = [...m.args, '-c', String(pg.clients), '-j', String(pg.clients), '-T', String(p.runtimeS)].join(' ');
    lines.push(`echo "${MARK} begin ${m.id}"`, `as_pg "$PG/pgbench" -h "$sock" -U postgres ${a} postgres >$t/out 2>$t/err; rc=$?; cat $t/out; [ $rc = 0 ] || tail -n 3 $t/err`, `echo "${MARK} end ${m.id} rc=$rc"`);
  }
  return lines.join('\n');
}

/** Seconds a Job may run before Kubernetes stops it: its rows, the pre-fill or initialization, and room for a slow attach. */
export function jobDeadlineS(p: ClusterBenchPlan, tool: BenchTool): number {
  const rows = tool === 'fio' ? hostBenchRows().length : PGBENCH_MODES.length;
  return 900 + rows * (p.runtimeS + p.rampS + 120);
}

/**
 * One Job: its side's volume at /bench, on `node` when given (the node the Berth side
 * ran on, so both sides share a machine). Node affinity by name, not nodeName, so the
 * scheduler still runs and a WaitForFirstConsumer claim gets provisioned.
 */
export function benchJob(p: ClusterBenchPlan, tool: BenchTool, side: BenchSide, node?: string): object {
  const volume = side === 'berth'
    ? { name: 'data', persistentVolumeClaim: { claimName: claimName(p) } }
    : { name: 'data', hostPath: { path: p.hostDir, type: 'DirectoryOrCreate' } };
  const affinity = node === undefined ? {} : {
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] } } },
  };
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: { name: jobName(p, tool, side), namespace: p.namespace, labels: labels(p) },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: jobDeadlineS(p, tool),
      template: {
        metadata: { labels: { ...labels(p), 'bench.berth.io/side': side, 'bench.berth.io/tool': tool } },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 5,
          ...affinity,
          containers: [{
            name: tool, image: p.image, imagePullPolicy: 'IfNotPresent',
            command: ['/bin/sh', '-c', tool === 'fio' ? fioScript(p, side) : pgbenchScript(p, side)],
            volumeMounts: [{ name: 'data', mountPath: MOUNT }],
          }],
          volumes: [volume],
        },
      },
    },
  };
}

export interface JobLog {
  /** Set when the Job's setup failed (pre-fill, initdb, …): every row failed with it. */
  fail?: string;
  /** fio's pre-fill fell back to buffered I/O (no O_DIRECT on that filesystem). */
  direct?: boolean;
  /** Each row's output by id; `rc` is the tool's exit code. */
  sections: Map<string, { text: string; rc: number }>;
}

/** Splits a Job's log at the markers its script printed (pure). */
export function parseJobLog(log: string): JobLog {
  const out: JobLog = { sections: new Map() };
  let current: { id: string; lines: string[] } | undefined;
  for (const line of log.split('\n')) {
    if (!line.startsWith(MARK)) {
      current?.lines.push(line);
      continue;
    }
    const [word, ...rest] = line.slice(MARK.length + 1).split(' ');
    if (word === 'fail') out.fail = rest.join(' ').trim();
    else if (word.startsWith('direct=')) out.direct = word === 'direct=1';
    else if (word === 'begin') current = { id: rest[0] ?? '', lines: [] };
    else if (word === 'end' && current && rest[0] === current.id) {
      out.sections.set(current.id, { text: current.lines.join('\n'), rc: Number(/^rc=(\d+)$/.exec(rest[1] ?? '')?.[1] ?? 1) });
      current = undefined;
    }
  }
  return out;
}

/** Why a row has no figure: the Job's own failure, the tool's last words, or a missing section. */
function rowError(log: JobLog, id: string, jobFailure: string | undefined): string | undefined {
  if (log.fail) return log.fail;
  const s = log.sections.get(id);
  if (!s) return jobFailure ?? 'the Job printed no result for this row';
  if (s.rc !== 0) return `exit ${s.rc}: ${s.text.trim().split('\n').slice(-2).join(' ')}`;
  return undefined;
}

export function fioCells(log: JobLog, jobFailure?: string): BenchCell[] {
  return hostBenchRows().map((row): BenchCell => {
    const err = rowError(log, row.id, jobFailure);
    if (err !== undefined) return { error: err };
    try {
      return parseFioJson(log.sections.get(row.id)!.text, row.rw) satisfies FioResult;
    } catch (e) {
      return { error: (e as Error).message };
    }
  });
}

export function pgbenchCells(log: JobLog, jobFailure?: string): PgCell[] {
  return PGBENCH_MODES.map((m): PgCell => {
    const err = rowError(log, m.id, jobFailure);
    if (err !== undefined) return { error: err };
    try {
      return { tps: parseTps(log.sections.get(m.id)!.text) };
    } catch (e) {
      return { error: (e as Error).message };
    }
  });
}

export const fioRows = (berth: BenchCell[], local: BenchCell[]): BenchRow[] => hostBenchRows().map((r, i) => benchRow(r, berth[i], local[i]));
export const pgbenchRows = (berth: PgCell[], local: PgCell[]): PgbenchRow[] => PGBENCH_MODES.map((m, i) => pgbenchRow(m, berth[i], local[i]));

interface JobStatusDoc { status?: { succeeded?: number; failed?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] } }
interface PodDoc {
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[];
  };
}

/** Reasons a pod waits that no amount of waiting fixes. */
const STUCK = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);

export type JobState =
  | { state: 'running'; node?: string; /** Why the pod is not running yet (unscheduled, creating), for progress lines. */ waiting?: string }
  | { state: 'succeeded'; node?: string }
  | { state: 'failed'; reason: string; node?: string };

/** Where a Job stands, from its own status and its pod's (pure). */
export function jobState(job: JobStatusDoc, pods: PodDoc[], image: string): JobState {
  const pod = pods[0];
  const node = pod?.spec?.nodeName;
  const at = node === undefined ? {} : { node };
  if ((job.status?.succeeded ?? 0) > 0) return { state: 'succeeded', ...at };
  const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed || (job.status?.failed ?? 0) > 0) return { state: 'failed', reason: failed?.message ?? failed?.reason ?? 'the Job failed', ...at };
  const waiting = pod?.status?.containerStatuses?.map((c) => c.state?.waiting).find((w) => w?.reason !== undefined && STUCK.has(w.reason));
  if (waiting) {
    const hint = /Image/.test(waiting.reason ?? '') ? ` (image ${image}: build it with deploy/bench/build-image.sh and load it on the nodes, or give --image)` : '';
    return { state: 'failed', reason: `${waiting.reason}: ${waiting.message ?? ''}`.trim() + hint, ...at };
  }
  const unscheduled = pod?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  const pending = unscheduled ? `unscheduled: ${unscheduled.message ?? unscheduled.reason ?? ''}`.trim()
    : pod?.status?.containerStatuses?.map((c) => c.state?.waiting?.reason).find((r) => r !== undefined);
  return { state: 'running', ...at, ...(pending ? { waiting: pending } : {}) };
}
