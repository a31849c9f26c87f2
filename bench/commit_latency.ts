/**
 * The commit pattern: fio 4k random writes at QD1 with `--fsync=1` (every write is
 * followed by SYNCHRONIZE CACHE), Berth against tgt on the same kind of backing file.
 * Rounds alternate the order of the targets; the table gives the median p50 completion
 * latency, the median of the per-round Berth/tgt ratios and the target's CPU per
 * write+flush pair (from /proc). `--compare-engine DIR` adds a third target: the engine
 * from another checkout (e.g. `git archive HEAD~1`), for before/after figures in one run.
 */
import { join } from 'node:path';
import { run } from '../test/helpers/tools.ts';
import { Metric, type RowSpec } from './bench_rows.ts';
import { markdownTable } from './bench_table.ts';
import { fioArgs, parseFioJson, type FioResult } from './fio.ts';
import { CpuMeter } from './proc_stat.ts';
import { startTarget, TargetKind, type RunningTarget } from './targets.ts';

export const COMMIT_ROW: RowSpec = {
  id: 'randwrite-4k-qd1-fsync', label: '4k randwrite QD1 fsync=1', rw: 'randwrite', blockSize: '4k', iodepth: 1, numjobs: 1, metric: Metric.iops,
};
const PREFILL: RowSpec = { id: 'prefill', label: 'pre-fill', rw: 'write', blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth };

export interface CommitLatencyOptions {
  fio: string;
  /** Directory of the backing files (/dev/shm, a disk directory). */
  dir: string;
  sizeBytes: number;
  runtimeS: number;
  rounds: number;
  /** fio jobs, each its own iSCSI session at QD1 (several clients committing at once); default 1. */
  jobs?: number;
  /** A checkout whose engine runs as the extra target "before". */
  compareEngine?: string;
  log: (s: string) => void;
}

export interface CommitSample {
  /** fio's figures for the writes (IOPS = write+flush pairs per second at QD1). */
  fio: FioResult;
  /** SYNCHRONIZE CACHE latency percentiles (fio's `sync` section), microseconds. */
  flushP50us: number;
  flushP99us: number;
  /** p50 write completion + p50 flush: the commit a database waits for. */
  commitP50us: number;
  /** Target CPU (user+system, all threads) per write+flush pair, microseconds. */
  cpuUsPerOp: number;
}

interface Contender { name: string; target: RunningTarget }

/** The engine of another checkout under the same node: `sh -c` swaps the entry point. */
export function wrapFor(checkout: string): string[] {
  return ['sh', '-c', 'n="$0"; shift; exec "$n" "$E" "$@"'].map((s) => s.replace('$E', join(checkout, 'src', 'engine', 'main.ts')));
}

/**
 * The figures of one `--fsync=1` fio run (JSON on stdout): write completion and flush
 * (fio's `sync` section) percentiles, and `cpuSeconds` of the measured processes per pair.
 */
export function commitSample(stdout: string, cpuSeconds: number, runtimeS: number): CommitSample {
  const r = parseFioJson(stdout, 'randwrite');
  const ops = r.iops * runtimeS;
  const doc = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { jobs: Array<{ sync?: { lat_ns?: { percentile?: Record<string, number> } } }> };
  const pct = doc.jobs[0]?.sync?.lat_ns?.percentile ?? {};
  const flushP50us = (pct['50.000000'] ?? 0) / 1000;
  return {
    fio: r, flushP50us, flushP99us: (pct['99.000000'] ?? 0) / 1000, commitP50us: r.p50us + flushP50us,
    cpuUsPerOp: ops > 0 ? (cpuSeconds / ops) * 1e6 : 0,
  };
}

async function sample(fio: string, t: RunningTarget, runtimeS: number, jobs: number): Promise<CommitSample> {
  const meter = new CpuMeter(t.pid);
  const row = { ...COMMIT_ROW, numjobs: jobs };
  const args = [...fioArgs({ fio, url: t.url, row, runtimeS, rampS: 1 }), '--fsync=1'];
  const rampTimer = setTimeout(() => meter.start(), 1000);
  meter.start();
  try {
    const out = await run(fio, args, { timeoutMs: (runtimeS + 60) * 1000 });
    return commitSample(out.stdout, meter.stop().cpuSeconds, runtimeS);
  } finally {
    clearTimeout(rampTimer);
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * One line per target: median p50s, flush p99, commits/s and CPU over rounds, then the
 * medians of the per-round ratios to `base` (below 1 = faster than the base).
 */
export function commitTable<S extends CommitSample>(names: readonly string[], samples: Record<string, S[]>, base: string,
  cpu: readonly { header: string; of: (s: S) => number }[] = [{ header: 'target CPU µs/commit', of: (s) => s.cpuUsPerOp }]): string {
  const baseRounds = samples[base] ?? [];
  const rows = names.map((name) => {
    const mine = samples[name] ?? [];
    const ratio = (f: (s: S) => number): string => {
      if (name === base) return '1.00';
      const rs = mine.map((s, i) => (baseRounds[i] && f(baseRounds[i]) > 0 ? f(s) / f(baseRounds[i]) : NaN)).filter((x) => !Number.isNaN(x));
      return rs.length ? median(rs).toFixed(2) : '—';
    };
    const med = (f: (s: S) => number): string => {
      const xs = mine.map(f).filter((x) => Number.isFinite(x));
      return xs.length ? median(xs).toFixed(0) : '—';
    };
    return [
      name, med((s) => s.fio.p50us), med((s) => s.flushP50us), med((s) => s.commitP50us), med((s) => s.flushP99us),
      med((s) => s.fio.iops), ...cpu.map((c) => med(c.of)), ratio((s) => s.commitP50us), ratio((s) => s.fio.iops),
    ];
  });
  return markdownTable([
    'Target', 'write p50 µs', 'flush p50 µs', 'commit p50 µs', 'flush p99 µs', 'commits/s', ...cpu.map((c) => c.header),
    `commit p50 / ${base}`, `commits/s / ${base}`,
  ], rows);
}

/** Runs the rounds and returns a markdown table (one line per target, ratios against tgt). */
export async function runCommitLatency(o: CommitLatencyOptions): Promise<{ markdown: string; samples: Record<string, CommitSample[]> }> {
  const opts = { baseDir: o.dir, sizeBytes: o.sizeBytes, blockSize: 512 as const, thin: false };
  const contenders: Contender[] = [];
  const samples: Record<string, CommitSample[]> = {};
  try {
    contenders.push({ name: 'Berth', target: await startTarget(TargetKind.berth, opts) });
    if (o.compareEngine) contenders.push({ name: 'Berth (compared checkout)', target: await startTarget(TargetKind.berth, { ...opts, engineWrap: wrapFor(o.compareEngine) }) });
    contenders.push({ name: 'tgt', target: await startTarget(TargetKind.tgt, opts) });
    for (const c of contenders) {
      samples[c.name] = [];
      await run(o.fio, fioArgs({ fio: o.fio, url: c.target.url, row: PREFILL }), { timeoutMs: 30 * 60_000 });
    }
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) {
        const s = await sample(o.fio, c.target, o.runtimeS, o.jobs ?? 1);
        samples[c.name].push(s);
        o.log(`commit latency ${o.dir} round ${round + 1} ${c.name}: write p50 ${s.fio.p50us.toFixed(0)} µs + flush p50 ${s.flushP50us.toFixed(0)} µs, ` +
          `${Math.round(s.fio.iops)} commits/s, ${s.cpuUsPerOp.toFixed(0)} µs CPU/commit`);
      }
    }
  } finally {
    for (const c of contenders) await c.target.stop();
  }
  const markdown = commitTable(contenders.map((c) => c.name), samples, 'tgt');
  return { markdown, samples };
}

/** The `npm run bench` section: every backing kind, 5 rounds of 10 s (quick: 3 of 4 s). */
export async function commitLatencySection(o: { fio: string; dirs: { title: string; dir: string }[]; quick: boolean; log: (s: string) => void }): Promise<string> {
  const parts = ['## Commit latency (fio 4k randwrite QD1, `--fsync=1`)', '',
    'Each 4k write is followed by SYNCHRONIZE CACHE, the pattern of a database commit. A 256 MiB thick volume per',
    `target, pre-filled; ${o.quick ? '3 rounds of 4 s' : '5 rounds of 10 s'}, the targets alternating order each round. "commit p50" is fio's`,
    'p50 write completion plus its p50 flush (`sync`) latency; ratios are medians of the per-round ratios',
    '(below 1 = Berth faster). Target CPU per commit is user+system time from /proc over the run.'];
  for (const d of o.dirs) {
    const r = await runCommitLatency({ fio: o.fio, dir: d.dir, sizeBytes: 256 * 2 ** 20, runtimeS: o.quick ? 4 : 10, rounds: o.quick ? 3 : 5, log: o.log })
      .then((x) => x.markdown, (err: Error) => `failed: ${err.message.split('\n')[0]}`);
    parts.push('', `### ${d.title}`, '', r);
  }
  return parts.join('\n');
}
