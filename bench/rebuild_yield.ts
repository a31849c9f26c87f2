/**
 * What a full rebuild costs the volume's users, per rebuild throttle mode:
 * `node bench/rebuild_yield.ts [--gib N] [--trials N]` (root: it makes namespaces; fio
 * from scripts/build-fio.sh). n0 runs fio 4k randwrite QD32 against a nexus on n1 (local
 * replica) while n2's replica is rebuilt in full; each trial measures 4 s with both
 * replicas in sync, then 4 s right after the rebuild starts, alternating `fixed` (the
 * rebuild ignores foreground I/O) and `adaptive` (it yields, docs/nexus.md "Rebuild
 * throttle"). Also the idle full-rebuild rate of each mode, alternating. Prints markdown.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, nsRun, type NodeEngine } from '../test/helpers/netns.ts';
import { buildDir, sleep } from '../test/helpers/tools.ts';
import { fioArgs, parseFioJson, type FioResult } from './fio.ts';
import { Metric, type RowSpec } from './bench_rows.ts';

const MiB = 1024 * 1024;
const MODES = ['fixed', 'adaptive'] as const;
type Mode = (typeof MODES)[number];

interface Replica { node: string; state: string; lastRebuild: { bytesCopied: number; seconds: number; finishedAt: string } | null }

const LOAD: RowSpec = { id: 'yield-load', label: '', rw: 'randwrite', blockSize: '4k', iodepth: 32, numjobs: 1, metric: Metric.iops };

export interface YieldTrial { mode: Mode; inSync: FioResult; during: FioResult; rebuildSeconds: number; rebuildEndedInWindow: boolean }

export async function runRebuildYieldBench(opts: { gib?: number; trials?: number; log?: (s: string) => void } = {}): Promise<{ idle: Record<Mode, number[]>; trials: YieldTrial[]; markdown: string }> {
  const fio = join(buildDir, 'fio', 'fio');
  if (!existsSync(fio)) throw new Error(`${fio} is missing: run scripts/build-fio.sh`);
  const size = (opts.gib ?? 2) * 1024 * MiB;
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const cluster = await Cluster.create(3);
  try {
    const [client, n1, n2] = cluster.nodes;
    const front = await cluster.startEngine(n1);
    const peer = await cluster.startEngine(n2);
    for (const e of [front, peer]) {
      await e.api('POST', '/v1/pools', { name: 'p', sizeBytes: size + 512 * MiB });
      await e.api('POST', '/v1/pools/p/volumes', { name: 'ry', sizeBytes: size, thin: false });
    }
    await front.api('POST', '/v1/nexus', { name: 'ry', replicas: [{ node: 'local', pool: 'p', volume: 'ry' }] });
    const url = (await front.api<{ url: string }>('POST', '/v1/nexus/ry/export', {})).url;
    const fill: RowSpec = { id: 'yield-fill', label: '', rw: 'write', blockSize: '1m', iodepth: 8, numjobs: 1, metric: Metric.bandwidth };
    await nsRun(client.ns, fio, [...fioArgs({ fio, url, row: fill }), '--thread'], { timeoutMs: 30 * 60_000 });
    await nsRun(n1.ns, 'sync', [], { timeoutMs: 10 * 60_000 });
    const fioFor = async (s: number): Promise<FioResult> => parseFioJson((await nsRun(client.ns, fio, [...fioArgs({ fio, url, row: LOAD, runtimeS: s }), '--thread'], { timeoutMs: (s + 60) * 1000 })).stdout, 'randwrite');
    const rebuild = (): Promise<unknown> => front.api('POST', '/v1/nexus/ry/replicas', { node: peer.replica, pool: 'p', volume: 'ry', full: true });
    const drop = (): Promise<unknown> => front.api('DELETE', `/v1/nexus/ry/replicas/${encodeURIComponent(`${peer.replica}/p/ry`)}`);

    const idle: Record<Mode, number[]> = { fixed: [], adaptive: [] };
    // The first rebuild writes never-written extents on n2: not counted.
    await rebuild();
    await waitOnline(front, peer, '');
    await drop();
    for (let k = 0; k < 3; k++) {
      for (const mode of MODES) {
        await front.api('PATCH', '/v1/nexus/ry', { rebuildThrottleMode: mode });
        await rebuild();
        const r = await waitOnline(front, peer, '');
        idle[mode].push(r.bytesCopied / MiB / r.seconds);
        log(`${mode}: idle full rebuild ${idle[mode].at(-1)!.toFixed(0)} MiB/s`);
        await drop();
      }
    }
    const trials: YieldTrial[] = [];
    for (let t = 0; t < (opts.trials ?? 3); t++) {
      for (const mode of t % 2 === 0 ? MODES : [...MODES].reverse()) {
        await front.api('PATCH', '/v1/nexus/ry', { rebuildThrottleMode: mode });
        await rebuild();
        const synced = await waitOnline(front, peer, '');
        const inSync = await fioFor(4);
        await drop();
        await rebuild();
        const during = await fioFor(4);
        const doc = await front.api<{ replicas: Replica[] }>('GET', '/v1/nexus/ry');
        const ended = doc.replicas.find((x) => x.node === peer.replica)?.state !== 'rebuilding';
        const r = await waitOnline(front, peer, synced.finishedAt);
        trials.push({ mode, inSync, during, rebuildSeconds: r.seconds, rebuildEndedInWindow: ended });
        log(`trial ${t} ${mode}: in sync ${Math.round(inSync.iops)} IOPS, during the rebuild ${Math.round(during.iops)} IOPS, rebuild ${r.seconds.toFixed(1)} s`);
        await drop();
      }
    }
    return { idle, trials, markdown: yieldMarkdown(size, idle, trials) };
  } finally {
    await cluster.destroy();
  }
}

async function waitOnline(front: NodeEngine, peer: NodeEngine, after: string): Promise<{ bytesCopied: number; seconds: number; finishedAt: string }> {
  const end = Date.now() + 30 * 60_000;
  while (Date.now() < end) {
    const d = await front.api<{ replicas: Replica[] }>('GET', '/v1/nexus/ry');
    const r = d.replicas.find((x) => x.node === peer.replica);
    if (r?.state === 'online' && r.lastRebuild && r.lastRebuild.finishedAt !== after) return r.lastRebuild;
    await sleep(100);
  }
  throw new Error('rebuild did not finish in 30 min');
}

export function yieldMarkdown(size: number, idle: Record<Mode, number[]>, trials: YieldTrial[]): string {
  const ms = (us: number): string => `${(us / 1000).toFixed(0)} ms`;
  const lines = [
    `Rebuild vs foreground (full rebuild of ${(size / 1024 / MiB).toFixed(0)} GiB onto n2; fio 4k randwrite QD32 from n0, 4 s with both replicas in sync, then 4 s from the rebuild's start; modes alternating)`,
    '',
    '| Mode | In sync | During the rebuild | Share | p99 in sync → during | Rebuild took |',
    '|---|---:|---:|---:|---:|---:|',
    ...trials.map((t) => `| ${t.mode} | ${Math.round(t.inSync.iops).toLocaleString('en-US')} IOPS | ${Math.round(t.during.iops).toLocaleString('en-US')} IOPS | ${(100 * t.during.iops / t.inSync.iops).toFixed(0)}% | ${ms(t.inSync.p99us)} → ${ms(t.during.p99us)} | ${t.rebuildSeconds.toFixed(1)} s${t.rebuildEndedInWindow ? ' (ended inside the window)' : ''} |`),
    '',
    `Idle full rebuild: fixed ${idle.fixed.map((x) => x.toFixed(0)).join(', ')} MiB/s; adaptive ${idle.adaptive.map((x) => x.toFixed(0)).join(', ')} MiB/s`,
  ];
  return lines.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { gib: { type: 'string' }, trials: { type: 'string' } } });
  const r = await runRebuildYieldBench({
    ...(values.gib !== undefined ? { gib: Number(values.gib) } : {}),
    ...(values.trials !== undefined ? { trials: Number(values.trials) } : {}),
  });
  process.stdout.write(r.markdown);
}
