/**
 * The issue-14 commit row on the attach path itself: fio 4k random writes at QD1 with
 * `--fsync=1` on the block device a pod's filesystem would sit on (the loop device of the
 * node plugin's user-space attach path), Berth against the same path with a raw local
 * file behind qemu-storage-daemon. This is the peer pgbench's "raw file" column uses;
 * commit_latency.ts measures one level lower (fio's own iSCSI sessions, tgt as the peer).
 *
 * Two rows per target: over a region written once before the rounds (a database's WAL
 * and tables once in use), and over a region never written before (first use: a thick
 * volume's blocks vs a sparse file's holes, each round a new region).
 */
import { CpuMeter } from './proc_stat.ts';
import { commitSample, commitTable, type CommitSample } from './commit_latency.ts';
import { run } from '../test/helpers/tools.ts';

export interface CommitDevice {
  name: string;
  /** The block device to write (e.g. /dev/loop3 of an attach). */
  device: string;
  /** Processes whose CPU is counted per commit as the engine's; may be empty. */
  pids: number[];
  /** The rest of the path's processes (qemu-storage-daemon), added for the path's CPU. */
  servicePids: number[];
}

export interface AttachCommitOptions {
  fio: string;
  devices: readonly CommitDevice[];
  rounds: number;
  runtimeS: number;
  /** Bytes each run writes into; fresh runs take region `rounds + round` (the device must hold 2 × rounds regions). */
  regionBytes: number;
  log: (s: string) => void;
}

export const Region = { written: 'written', fresh: 'fresh' } as const;
export type Region = (typeof Region)[keyof typeof Region];

export interface AttachSample extends CommitSample {
  /** The engine's share of cpuUsPerOp (NaN without an engine). */
  engineCpuUsPerOp: number;
}

export type AttachCommitResults = Record<Region, Record<string, AttachSample[]>>;

function commitArgs(device: string, offset: number, o: AttachCommitOptions): string[] {
  return [
    '--name=commit', `--filename=${device}`, '--ioengine=psync', '--rw=randwrite', '--bs=4k', '--iodepth=1', '--fsync=1',
    `--offset=${offset}`, `--size=${o.regionBytes}`, '--time_based', `--runtime=${o.runtimeS}`, '--ramp_time=1',
    '--randrepeat=0', '--norandommap', '--output-format=json', '--percentile_list=50:99',
  ];
}

async function sample(d: CommitDevice, offset: number, o: AttachCommitOptions): Promise<AttachSample> {
  const engine = d.pids.map((p) => new CpuMeter(p));
  const service = d.servicePids.map((p) => new CpuMeter(p));
  const all = [...engine, ...service];
  const rampTimer = setTimeout(() => { for (const m of all) m.start(); }, 1000);
  for (const m of all) m.start();
  try {
    const out = await run(o.fio, commitArgs(d.device, offset, o), { timeoutMs: (o.runtimeS + 120) * 1000 });
    const cpu = (ms: CpuMeter[]): number => ms.reduce((a, m) => a + m.stop().cpuSeconds, 0);
    const engineCpu = cpu(engine);
    const r = commitSample(out.stdout, engineCpu + cpu(service), o.runtimeS);
    const perOp = (s: number): number => (r.fio.iops > 0 ? (s / (r.fio.iops * o.runtimeS)) * 1e6 : NaN);
    // A path with no process measured has no figure, not a zero cost.
    return { ...r, cpuUsPerOp: all.length ? r.cpuUsPerOp : NaN, engineCpuUsPerOp: engine.length ? perOp(engineCpu) : NaN };
  } finally {
    clearTimeout(rampTimer);
  }
}

/** Writes region 0 of every device once (1 MiB writes, one fsync at the end). */
async function prefill(d: CommitDevice, o: AttachCommitOptions): Promise<void> {
  await run(o.fio, ['--name=prefill', `--filename=${d.device}`, '--ioengine=psync', '--rw=write', '--bs=1m',
    `--size=${o.regionBytes}`, '--end_fsync=1', '--output-format=json'], { timeoutMs: 30 * 60_000 });
}

/** Every device, both regions, `rounds` times, the order of the devices alternating. */
export async function runAttachCommit(o: AttachCommitOptions): Promise<AttachCommitResults> {
  const res: AttachCommitResults = { [Region.written]: {}, [Region.fresh]: {} };
  for (const d of o.devices) {
    res.written[d.name] = [];
    res.fresh[d.name] = [];
    await prefill(d, o);
  }
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? o.devices : [...o.devices].reverse();
    for (const region of [Region.written, Region.fresh]) {
      const offset = region === Region.written ? 0 : (1 + round) * o.regionBytes;
      for (const d of order) {
        const s = await sample(d, offset, o);
        res[region][d.name].push(s);
        o.log(`commit (attach path, ${region} region) round ${round + 1} ${d.name}: write p50 ${s.fio.p50us.toFixed(0)} µs + ` +
          `flush p50 ${s.flushP50us.toFixed(0)} µs, ${Math.round(s.fio.iops)} commits/s`);
      }
    }
  }
  return res;
}

/** One table per region, ratios against `base`. */
export function attachCommitMarkdown(r: AttachCommitResults, names: readonly string[], base: string): string {
  const cpu = [
    { header: 'engine CPU µs/commit', of: (s: AttachSample) => s.engineCpuUsPerOp },
    { header: 'path CPU µs/commit', of: (s: AttachSample) => s.cpuUsPerOp },
  ];
  return [
    '#### Region written before the rounds', '', commitTable(names, r.written, base, cpu), '',
    '#### Region never written before (a new one each round)', '', commitTable(names, r.fresh, base, cpu),
  ].join('\n');
}

/** The device must hold the written region and one fresh region per round. */
export function attachCommitBytes(rounds: number, regionBytes: number): number {
  return (rounds + 1) * regionBytes;
}
