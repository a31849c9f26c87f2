/**
 * Not a test: drives one Berth engine with fio rows and reports IOPS, bandwidth and the
 * engine's CPU µs per operation; with --prof it runs the engine under `node --cpu-prof`
 * and prints the top self-time functions. Compare --io-mode choices with --engine-args.
 *
 *   node test/perf/profile_engine.ts [--backing DIR] [--rows id,…] [--runtime S]
 *        [--engine-args="--io-mode sync"] [--prof] [--tgt] [--size-gib N] [--no-prefill] [--show-login]
 *        [--node-options="--max-semi-space-size=64"]
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SINGLE_VOLUME_ROWS, type RowSpec } from '../../bench/bench_rows.ts';
import { runFio } from '../../bench/fio.ts';
import { CpuMeter } from '../../bench/proc_stat.ts';
import { exportedVolume } from '../helpers/api.ts';
import { startEngine } from '../helpers/engine_process.ts';
import { startTgt } from '../helpers/tgt.ts';
import { fioPath as findFio, nodeBin, run } from '../helpers/tools.ts';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    backing: { type: 'string', default: '/dev/shm' },
    rows: { type: 'string', default: 'randread-4k-qd32,randwrite-4k-qd32' },
    runtime: { type: 'string', default: '8' },
    'engine-args': { type: 'string', default: '' },
    'size-gib': { type: 'string', default: '1' },
    prof: { type: 'boolean', default: false },
    tgt: { type: 'boolean', default: false },
    prefill: { type: 'boolean', default: true },
    'node-options': { type: 'string', default: '' },
    'show-login': { type: 'boolean', default: false },
  },
});
const fioPath = findFio() ?? 'fio';
const size = Number(values['size-gib']) * 2 ** 30;
const rows = values.rows!.split(',').map((id) => {
  const r = SINGLE_VOLUME_ROWS.find((x) => x.id === id);
  if (r === undefined) throw new Error(`unknown row ${id}`);
  return r;
});
const prefill: RowSpec = { id: 'prefill', label: 'prefill', rw: 'write', blockSize: '1m', iodepth: 8, numjobs: 1, metric: 'bandwidth' };
mkdirSync(values.backing!, { recursive: true });
const dir = mkdtempSync(join(values.backing!, 'berth-perf-'));
const profDir = join(dir, 'prof');

async function measure(name: string, url: string, pid: number): Promise<void> {
  if (values.prefill) await runFio({ fio: fioPath, url, row: prefill });
  for (const row of rows) {
    const meter = new CpuMeter(pid);
    meter.start();
    const r = await runFio({ fio: fioPath, url, row, runtimeS: Number(values.runtime), rampS: 1 });
    const cpu = meter.stop().cpuSeconds;
    const ops = r.bytes / (row.blockSize === '4k' ? 4096 : 2 ** 20);
    process.stdout.write(`${name.padEnd(6)} ${row.id.padEnd(22)} ${r.iops.toFixed(0).padStart(7)} IOPS ${r.mibPerSec.toFixed(0).padStart(5)} MiB/s `
      + `p99 ${r.p99us.toFixed(0).padStart(6)} µs  ${((cpu * 1e6) / ops).toFixed(1).padStart(6)} µs CPU/op\n`);
  }
}

try {
  if (values.tgt) {
    const file = join(dir, 'lun.img');
    await run('truncate', ['-s', String(size), file]);
    const t = await startTgt({ backingFile: file, blockSize: 512, thin: false });
    try { await measure('tgt', t.url, t.pid); } finally { await t.stop(); }
  }
  const engineArgs = values['engine-args']!.split(' ').filter(Boolean);
  const engine = await startEngine({
    dataDir: join(dir, 'data'), poolRoots: [dir], args: engineArgs, logLevel: 'info',
    env: { NODE_OPTIONS: `${values['node-options']} ${values.prof ? `--cpu-prof --cpu-prof-dir=${profDir}` : ''}`.trim() },
  });
  try {
    const exp = await exportedVolume(engine.api, {
      pool: { name: 'perf', path: join(dir, 'pool.img'), sizeBytes: size + 256 * 2 ** 20 },
      volume: { name: 'vol', sizeBytes: size, blockSize: 512, thin: false },
    });
    await measure('berth', exp.url, engine.pid);
    if (values['show-login']) process.stdout.write(`${/.*login complete.*/.exec(engine.diagnostics())?.[0] ?? ''}\n`);
  } finally {
    await engine.stop();
  }
  if (values.prof) {
    for (const f of readdirSync(profDir)) {
      const out = await run(nodeBin, [join(import.meta.dirname, 'profile_top.ts'), join(profDir, f), '35']);
      process.stdout.write(out.stdout);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
