/**
 * `npm run bench [-- options]`: Berth and tgt side by side, per backing kind (a file in
 * /dev/shm and a file on disk), through fio's libiscsi engine; then the engine's idle
 * footprint with 100 exports. Prints markdown tables, writes docs/benchmarks.md, and
 * ends with exactly `min Berth/tgt ratio: X.XX`.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { buildDir, fioPath, repoRoot, run } from '../test/helpers/tools.ts';
import { loadAverage, machineFacts, writeDocs, DOCS_PATH } from './bench_docs.ts';
import { SINGLE_VOLUME_ROWS, PREFILL_ROW, type RowSpec } from './bench_rows.ts';
import { idleTable, label, minRatioLine, sectionTable, type Comparison, type IdleFigures, type Measurement, type Section } from './bench_table.ts';
import { runFio } from './fio.ts';
import { placementSection } from './placement_section.ts';
import { runReplicatedBench } from './replicated.ts';
import { commitLatencySection } from './commit_latency.ts';
import { snapshotCowSection } from './snapshot_cow.ts';
import { pgbenchSection } from './pgbench.ts';
import { netpathSection } from './netpath.ts';
import { metricsOverheadSection } from './metrics_overhead.ts';
import { measureIdleExports } from './idle_exports.ts';
import { CpuMeter } from './proc_stat.ts';
import { startTarget, TargetKind, type RunningTarget } from './targets.ts';

const GIB = 2 ** 30;
const COMPARISON: Comparison = { subject: TargetKind.berth, baseline: TargetKind.tgt };

interface Backing {
  id: string;
  title: string;
  dir: string;
}

interface Config {
  runtimeS: number;
  rampS: number;
  sizeBytes: number;
  targets: TargetKind[];
  backings: Backing[];
  rows: RowSpec[];
  idle: boolean;
  quick: boolean;
  replicated: boolean;
  /** The replicated rows' own quick mode (5 s rows, median of 3), independent of --quick. */
  replicatedQuick: boolean;
  /** `--rebuild-gib N`: the rebuild rows' volume size, whatever the replicated mode. */
  rebuildBytes: number | undefined;
  placement: boolean;
  /** The commit-latency rows (fio 4k randwrite QD1 fsync=1, bench/commit_latency.ts). */
  commit: boolean;
  /** Copy-on-write snapshot rows (bench/snapshot_cow.ts); `--no-snapshot-cow` skips them. */
  snapshotCow: boolean;
  /** The PostgreSQL rows (bench/pgbench.ts): scale, seconds per run, rounds, directory of the files. */
  pgbench: { scale: number; runtimeS: number; rounds: number; dir: string } | undefined;
  /** fio over loopback, veth, bridge and VXLAN (bench/netpath.ts). */
  netpath: boolean;
  /** 4k randread with I/O accounting on and off (bench/metrics_overhead.ts). */
  metricsOverhead: boolean;
  writeDocs: boolean;
}

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    allowNegative: true,
    strict: true,
    options: {
      runtime: { type: 'string', default: '20' },
      ramp: { type: 'string', default: '3' },
      quick: { type: 'boolean', default: false },
      'size-gib': { type: 'string', default: '2' },
      targets: { type: 'string', default: 'berth,tgt' },
      backing: { type: 'string', default: 'shm,disk' },
      'disk-dir': { type: 'string', default: join(buildDir, 'bench') },
      rows: { type: 'string' },
      idle: { type: 'boolean', default: true },
      replicated: { type: 'boolean', default: true },
      'replicated-quick': { type: 'boolean', default: false },
      'rebuild-gib': { type: 'string' },
      placement: { type: 'boolean', default: true },
      commit: { type: 'boolean', default: true },
      'snapshot-cow': { type: 'boolean', default: true },
      pgbench: { type: 'boolean', default: true },
      netpath: { type: 'boolean', default: true },
      'metrics-overhead': { type: 'boolean', default: true },
      'pgbench-scale': { type: 'string' },
      'pgbench-runtime': { type: 'string' },
      'pgbench-rounds': { type: 'string' },
      'pgbench-dir': { type: 'string' },
      'write-docs': { type: 'boolean', default: true },
    },
  });
  const backingsById: Record<string, Backing> = {
    shm: { id: 'shm', title: 'Backing file in /dev/shm (tmpfs)', dir: '/dev/shm' },
    disk: { id: 'disk', title: `Backing file on disk (${values['disk-dir']})`, dir: values['disk-dir']! },
  };
  const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);
  const targets = list(values.targets!).map((t) => {
    if (t !== TargetKind.berth && t !== TargetKind.tgt) throw new Error(`unknown target '${t}' (berth, tgt)`);
    return t as TargetKind;
  });
  const backings = list(values.backing!).map((b) => {
    const found = backingsById[b];
    if (!found) throw new Error(`unknown backing '${b}' (shm, disk)`);
    return found;
  });
  const wanted = values.rows ? new Set(list(values.rows)) : undefined;
  const rows = SINGLE_VOLUME_ROWS.filter((r) => !wanted || wanted.has(r.id));
  if (rows.length === 0) throw new Error(`no rows match --rows; known: ${SINGLE_VOLUME_ROWS.map((r) => r.id).join(', ')}`);
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!(n >= 0)) throw new Error(`--${name} wants a number, got '${v}'`);
    return n;
  };
  return {
    runtimeS: values.quick ? 5 : num('runtime', values.runtime),
    rampS: values.quick ? 1 : num('ramp', values.ramp),
    sizeBytes: Math.round(num('size-gib', values['size-gib']) * GIB),
    targets, backings, rows,
    idle: values.idle! && targets.includes(TargetKind.berth),
    quick: values.quick!,
    replicated: values.replicated! && targets.includes(TargetKind.berth),
    replicatedQuick: values.quick! || values['replicated-quick']!,
    rebuildBytes: values['rebuild-gib'] === undefined ? undefined : Math.round(num('rebuild-gib', values['rebuild-gib']) * GIB),
    placement: values.placement!,
    commit: values.commit! && targets.includes(TargetKind.berth) && targets.includes(TargetKind.tgt),
    snapshotCow: values['snapshot-cow']! && targets.includes(TargetKind.berth),
    pgbench: values.pgbench! && targets.includes(TargetKind.berth) ? {
      scale: num('pgbench-scale', values['pgbench-scale'] ?? (values.quick ? '10' : '50')),
      runtimeS: num('pgbench-runtime', values['pgbench-runtime'] ?? (values.quick ? '10' : '60')),
      rounds: num('pgbench-rounds', values['pgbench-rounds'] ?? (values.quick ? '2' : '5')),
      dir: values['pgbench-dir'] ?? values['disk-dir']!,
    } : undefined,
    netpath: values.netpath! && targets.includes(TargetKind.berth),
    metricsOverhead: values['metrics-overhead']! && targets.includes(TargetKind.berth),
    writeDocs: values['write-docs']!,
  };
}

/** One row against a running target: fio for the row, target CPU over the measured part. */
async function measureRow(fio: string, t: RunningTarget, row: RowSpec, cfg: Config): Promise<Measurement> {
  const meter = new CpuMeter(t.pid);
  // fio's ramp is not counted in its bytes, so CPU sampling starts when the ramp ends.
  meter.start();
  const rampTimer = setTimeout(() => meter.start(), cfg.rampS * 1000);
  try {
    const result = await runFio({ fio, url: t.url, row, runtimeS: cfg.runtimeS, rampS: cfg.rampS });
    const cpu = meter.stop().cpuSeconds;
    return { fio: result, cpuSeconds: cpu, cpuSecondsPerGiB: result.bytes > 0 ? cpu / (result.bytes / GIB) : 0 };
  } finally {
    clearTimeout(rampTimer);
  }
}

/**
 * All targets of one backing kind run at once (the idle one costs nothing) and take turns
 * row by row, in A-B then B-A order, so load from elsewhere on a shared machine falls on
 * both alike instead of on whichever target happened to run during it.
 */
async function benchBacking(fio: string, backing: Backing, section: Section, cfg: Config): Promise<void> {
  const running: RunningTarget[] = [];
  try {
    for (const kind of cfg.targets) {
      try {
        const t = await startTarget(kind, { baseDir: backing.dir, sizeBytes: cfg.sizeBytes, blockSize: 512, thin: false });
        running.push(t);
        log(`${label(kind)} on ${backing.id}: pre-filling ${cfg.sizeBytes / GIB} GiB at ${t.url}`);
        await runFio({ fio, url: t.url, row: PREFILL_ROW });
      } catch (err) {
        const msg = (err as Error).message;
        log(`${label(kind)} on ${backing.id}: could not start: ${msg}`);
        for (const r of section.rows) r.cells[kind] = { error: `start: ${msg}` };
      }
    }
    for (let i = 0; i < cfg.rows.length; i++) {
      const row = cfg.rows[i];
      const order = i % 2 === 0 ? running : [...running].reverse();
      for (const t of order) {
        const who = `${label(t.kind)} on ${backing.id}: ${row.label}`;
        try {
          const m = await measureRow(fio, t, row, cfg);
          section.rows[i].cells[t.kind] = m;
          log(`${who}: ${Math.round(m.fio.iops)} IOPS, ${m.fio.mibPerSec.toFixed(0)} MiB/s, ` +
            `p99 ${Math.round(m.fio.p99us)} µs, ${m.cpuSecondsPerGiB.toFixed(2)} CPU s/GiB`);
        } catch (err) {
          section.rows[i].cells[t.kind] = { error: (err as Error).message };
          log(`${who}: FAILED ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    for (const t of running) await t.stop();
  }
}

/** The disk backing's directory, for sections that also measure on disk. */
function diskDirOf(cfg: Config): { diskDir?: string } {
  const disk = cfg.backings.find((b) => b.id === 'disk');
  return disk === undefined ? {} : { diskDir: disk.dir };
}

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function methodText(cfg: Config): string {
  return [
    `- One ${cfg.sizeBytes / GIB} GiB volume per target, fully provisioned (thick), 512-byte blocks, backed by a`,
    '  sparse file of the given kind (Berth: a pool file holding the volume; tgt: the LUN file).',
    '  Both targets start fresh for each backing kind and are pre-filled with 1 MiB sequential',
    '  writes over the whole volume, so reads return real data. They run side by side but',
    '  take turns row by row (Berth, tgt, then tgt, Berth), so a busy moment on the shared',
    '  machine falls on both.',
    `- fio ${cfg.runtimeS} s per row after a ${cfg.rampS} s ramp, \`--ioengine=libiscsi\`, one iSCSI session per job,`,
    '  `--norandommap --randrepeat=0`. "×4 jobs" rows run 4 jobs at iodepth 32 each (128 in flight).',
    '- Latency is fio\'s completion latency (p50 / p99). CPU s/GiB is the target process\'s user +',
    '  system time (all threads, /proc/PID/stat) after the ramp, divided by GiB moved.',
    '- The ratio is Berth/tgt on IOPS for 4k rows and on MiB/s for 1 MiB rows. fio, the target and',
    '  the kernel share the same cores, as they would on a hyperconverged node.',
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const cfg = parseConfig(argv);
  await run('bash', [join(repoRoot, 'scripts', 'build-fio.sh')], { timeoutMs: 10 * 60_000 });
  const fio = fioPath();
  if (!fio) throw new Error('scripts/build-fio.sh left no .build/fio/fio');
  const facts = await machineFacts(fio);
  const loadAtStart = loadAverage();

  const sections: Section[] = [];
  for (const backing of cfg.backings) {
    const section: Section = { title: backing.title, rows: cfg.rows.map((row) => ({ row, cells: {} })) };
    sections.push(section);
    await benchBacking(fio, backing, section, cfg);
  }

  let idle: IdleFigures | undefined;
  if (cfg.idle) {
    log('idle footprint: 100 thin volumes exported');
    idle = await measureIdleExports({ baseDir: '/dev/shm' }).catch((err: Error) => {
      log(`idle footprint failed: ${err.message.split('\n')[0]}`);
      return undefined;
    });
  }

  const extra: string[] = [];
  if (cfg.commit) {
    log('commit latency: 4k randwrite QD1 fsync=1, Berth and tgt, interleaved rounds');
    extra.push(await commitLatencySection({ fio, dirs: cfg.backings.map((b) => ({ title: b.title, dir: b.dir })), quick: cfg.quick, log }));
  }
  if (cfg.snapshotCow) {
    log('copy-on-write snapshots: create time by volume size, space, 4k randwrite around a snapshot');
    extra.push(await snapshotCowSection({ fio, quick: cfg.quick, log, ...diskDirOf(cfg) }));
  }
  if (cfg.pgbench) {
    log('pgbench: PostgreSQL on Berth, on the same attach path over a raw file, on a local loop device; interleaved rounds');
    extra.push(await pgbenchSection({ ...cfg.pgbench, replicated: cfg.replicated, log }));
  }
  if (cfg.replicated) {
    log('replicated volumes: nodes in network namespaces');
    const text = await runReplicatedBench({ quick: cfg.replicatedQuick, ...(cfg.rebuildBytes !== undefined ? { rebuildBytes: cfg.rebuildBytes } : {}), log }).then((r) => r.markdown, (err: Error) => {
      log(`replicated bench failed: ${err.message.split('\n')[0]}`);
      return `failed: ${err.message.split('\n')[0]}`;
    });
    extra.push(`## Replicated volumes\n\n${text}`);
  }
  if (cfg.placement) {
    log('placement: 10,000 volumes on a simulated fleet of 10,000 nodes / 100,000 drives');
    extra.push(await placementSection());
  }
  if (cfg.metricsOverhead) {
    log('metrics overhead: 4k randread QD32 with I/O accounting on and off, alternating rounds');
    extra.push(await metricsOverheadSection({ fio, rounds: cfg.quick ? 4 : 8, seconds: cfg.quick ? 5 : 10, log }));
  }
  if (cfg.netpath) {
    log('network paths: fio over loopback, a veth pair, a bridge and VXLAN between namespaces');
    extra.push(await netpathSection({ fio, quick: cfg.quick, log }));
  }

  const tables = sections.map((s) => sectionTable(s, cfg.targets, COMPARISON));
  const idleText = idle ? idleTable(idle) : undefined;
  const summary = minRatioLine(sections, COMPARISON);
  if (cfg.writeDocs) {
    writeDocs({
      command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
      date: new Date().toISOString(),
      load: { start: loadAtStart, end: loadAverage() },
      facts, method: methodText(cfg), sections: tables, idle: idleText, extra, summary,
    });
    log(`wrote ${DOCS_PATH}`);
  }
  console.log('');
  for (const t of tables) console.log(`${t}\n`);
  if (idleText) console.log(`${idleText}\n`);
  for (const e of extra) console.log(`${e}\n`);
  console.log(summary);
}

main().catch((err: unknown) => {
  console.error(`bench: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
