/**
 * What per-command I/O accounting costs: two engines in one run, one with counting
 * (the default) and one with BERTH_IO_METRICS=0, each exporting a volume in a /dev/shm
 * pool; fio's libiscsi engine runs 4k randread QD32 against them in alternating rounds
 * so machine noise hits both alike. Prints per-round IOPS and engine CPU time per
 * command (from /proc: steadier than IOPS on a shared machine), and the median overheads.
 *   node bench/metrics_overhead.ts [rounds=4] [seconds=10]
 */
import { startEngine, type EngineProcess } from '../test/helpers/engine_process.ts';
import { fioPath } from '../test/helpers/tools.ts';
import { provision, qemuIo, MiB } from '../test/engine/engine_kit.ts';
import { SINGLE_VOLUME_ROWS } from './bench_rows.ts';
import { runFio } from './fio.ts';
import { cpuSeconds } from './proc_stat.ts';

const rounds = Number(process.argv[2] ?? 4);
const seconds = Number(process.argv[3] ?? 10);
const row = SINGLE_VOLUME_ROWS.find((r) => r.id === 'randread-4k-qd32')!;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const fio = fioPath();
  if (fio === undefined) throw new Error('fio with libiscsi is not built: run scripts/install-deps.sh');
  const engines: Array<{ name: string; engine: EngineProcess; url: string; iops: number[]; cpuUs: number[] }> = [];
  try {
    for (const [name, env] of [['metrics on', {}], ['metrics off', { BERTH_IO_METRICS: '0' }]] as const) {
      const engine = await startEngine({ env, poolRoots: ['/dev/shm'] });
      const pool = `/dev/shm/berth-overhead-${process.pid}-${engines.length}.pool`;
      await fetch(new URL('/v1/pools', engine.api), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'p', path: pool, sizeBytes: 1100 * MiB }) });
      const x = (await provision(engine.api, { pool: 'p', createPool: false, volume: 'v', volumeBytes: 1024 * MiB, thin: false }))!;
      await qemuIo(x.url, ['write -P 0x11 0 1024M'], { timeoutMs: 300_000 }); // reads hit written blocks
      engines.push({ name, engine, url: x.url, iops: [], cpuUs: [] });
    }
    for (let i = 0; i < rounds; i++) {
      // Alternate the order so neither side always runs first.
      for (const e of i % 2 === 0 ? engines : [...engines].reverse()) {
        const cpu0 = cpuSeconds(e.engine.pid);
        const r = await runFio({ fio, url: e.url, row, runtimeS: seconds, rampS: 2 });
        const cpu = cpuSeconds(e.engine.pid) - cpu0;
        // Ramp-time commands use CPU too: count every command the engine served in the run.
        const commands = r.iops * (seconds + 2);
        e.iops.push(Math.round(r.iops));
        e.cpuUs.push(Math.round((cpu / commands) * 1e7) / 10);
        console.log(`round ${i + 1} ${e.name}: ${Math.round(r.iops)} IOPS, ${e.cpuUs.at(-1)} µs engine CPU per command`);
      }
    }
    const on = median(engines[0].iops);
    const off = median(engines[1].iops);
    console.log(`median: on ${on}, off ${off} IOPS; overhead ${(((off - on) / off) * 100).toFixed(1)}%`);
    const cOn = median(engines[0].cpuUs);
    const cOff = median(engines[1].cpuUs);
    console.log(`median engine CPU per command: on ${cOn} µs, off ${cOff} µs; overhead ${(((cOn - cOff) / cOff) * 100).toFixed(1)}%`);
  } finally {
    for (const e of engines) await e.engine.stop();
    for (let i = 0; i < 2; i++) await import('node:fs').then((fs) => fs.rmSync(`/dev/shm/berth-overhead-${process.pid}-${i}.pool`, { force: true }));
  }
}

await main();
