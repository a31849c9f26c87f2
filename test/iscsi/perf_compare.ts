/**
 * Side-by-side benchmark, not a test: Berth's iSCSI target against tgtd on the same
 * machine, each serving a 1 GiB file in /dev/shm. Berth serves it through the SCSI test
 * double (test/iscsi/memory_scsi_target.ts in file mode: fs.read/fs.write on libuv's
 * pool), so this measures the transport. Reports IOPS or MB/s and the target's CPU time
 * per operation (steadier than wall time on a busy machine).
 *
 *   node test/iscsi/perf_compare.ts [seconds-for-iscsi-perf] [--sync-io] [--tgt-first] [--rounds=N]
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readFileSync, rmSync } from 'node:fs';
import { IscsiServer } from '../../src/iscsi/index.ts';
import { MemoryScsiTarget } from './memory_scsi_target.ts';

const seconds = Number(process.argv[2] ?? 10);
const SIZE = 1024 * 1024 * 1024;
const IQN = 'iqn.2026-01.io.berth:perf';

interface Phase { name: string; cmd: string; args: (url: string) => string[]; ops: number | undefined; unit: 'IOPS' | 'MB/s' }
const qb = (extra: string[]) => (url: string): string[] => ['bench', '-f', 'raw', '-t', 'none', '-i', 'threads', ...extra, url];
const PHASES: Phase[] = [
  { name: 'iscsi-perf 4k random read QD32', cmd: 'iscsi-perf', args: (u) => ['-m', '32', '-b', '8', '-r', '-t', String(seconds), u], ops: undefined, unit: 'IOPS' },
  { name: 'qemu-img bench 4k random-ish write QD32', cmd: 'qemu-img', args: qb(['-w', '-c', '300000', '-d', '32', '-s', '4k', '-S', '12288']), ops: 300000, unit: 'IOPS' },
  { name: 'qemu-img bench 4k read QD32', cmd: 'qemu-img', args: qb(['-c', '300000', '-d', '32', '-s', '4k', '-S', '12288']), ops: 300000, unit: 'IOPS' },
  { name: 'qemu-img bench 1M seq write QD8', cmd: 'qemu-img', args: qb(['-w', '-c', '6000', '-d', '8', '-s', '1M', '-S', '1M']), ops: 6000, unit: 'MB/s' },
  { name: 'qemu-img bench 1M seq read QD8', cmd: 'qemu-img', args: qb(['-c', '6000', '-d', '8', '-s', '1M', '-S', '1M']), ops: 6000, unit: 'MB/s' },
];

function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', () => resolve(out));
  });
}

/** CPU seconds a process has used so far (user + system). */
function cpuOf(pid: number | 'self'): number {
  if (pid === 'self') {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function measure(url: string, pid: number | 'self'): Promise<Array<{ rate: number; cpuUsPerOp: number }>> {
  const out = [];
  for (const ph of PHASES) {
    const cpu0 = cpuOf(pid);
    const t0 = performance.now();
    const text = await exec(ph.cmd, ph.args(url));
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuOf(pid) - cpu0;
    let ops = ph.ops ?? NaN;
    let secs = Number(/Run completed in ([\d.]+) seconds/.exec(text)?.[1] ?? wall);
    if (ph.cmd === 'iscsi-perf') {
      const iops = Number([...text.matchAll(/iops average (\d+)/g)].at(-1)?.[1] ?? NaN);
      ops = iops * seconds;
      secs = seconds;
    }
    const rate = ph.unit === 'IOPS' ? ops / secs : (ops * 1.048576) / secs;
    out.push({ rate: Math.round(rate), cpuUsPerOp: Math.round((cpu / ops) * 1e6 * 10) / 10 });
  }
  return out;
}

async function berth(): Promise<Array<{ rate: number; cpuUsPerOp: number }>> {
  const file = `/dev/shm/berth-perf-${process.pid}`;
  const fd = openSync(file, 'w+');
  ftruncateSync(fd, SIZE);
  const srv = new IscsiServer({ host: '127.0.0.1', port: 0 });
  srv.addTarget({ iqn: IQN, scsi: new MemoryScsiTarget({ 0: SIZE }, fd, process.argv.includes('--sync-io')) });
  try {
    const { port } = await srv.listen();
    return await measure(`iscsi://127.0.0.1:${port}/${IQN}/0`, 'self');
  } finally {
    await srv.close();
    closeSync(fd);
    rmSync(file);
  }
}

async function tgt(): Promise<Array<{ rate: number; cpuUsPerOp: number }>> {
  const file = `/dev/shm/tgt-perf-${process.pid}`;
  closeSync(openSync(file, 'w+'));
  execFileSync('truncate', ['-s', String(SIZE), file]);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const ctl = String(1000 + Math.floor(Math.random() * 8000));
  const tgtd = spawn('tgtd', ['-f', '--iscsi', `portal=127.0.0.1:${port}`, '-C', ctl], { stdio: 'ignore' });
  const adm = (...a: string[]): void => void execFileSync('tgtadm', ['-C', ctl, '--lld', 'iscsi', ...a], { stdio: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      try {
        adm('--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN);
        break;
      } catch (e) {
        if (i > 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    adm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', file);
    adm('--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL');
    return await measure(`iscsi://127.0.0.1:${port}/${IQN}/1`, tgtd.pid!);
  } finally {
    try { adm('--mode', 'target', '--op', 'delete', '--force', '--tid', '1'); } catch { /* gone */ }
    try { execFileSync('tgtadm', ['-C', ctl, '--mode', 'system', '--op', 'delete'], { stdio: 'ignore' }); } catch { /* exiting */ }
    tgtd.kill('SIGKILL');
    rmSync(file);
  }
}

const roundsArg = process.argv.find((a) => a.startsWith('--rounds='));
const rounds = roundsArg ? Number(roundsArg.slice(9)) : 1;
type Row = { rate: number; cpuUsPerOp: number };
const all: Record<'berth' | 'tgt', Row[][]> = { berth: [], tgt: [] };
for (let r = 0; r < rounds; r++) {
  // Alternate who goes first, so drifting machine load does not favour one side.
  const order: Array<'berth' | 'tgt'> = (r % 2 === 1) !== process.argv.includes('--tgt-first') ? ['tgt', 'berth'] : ['berth', 'tgt'];
  for (const who of order) all[who].push(who === 'berth' ? await berth() : await tgt());
}
const best = (who: 'berth' | 'tgt', i: number): Row => ({
  rate: Math.max(...all[who].map((x) => x[i].rate)),
  cpuUsPerOp: Math.min(...all[who].map((x) => x[i].cpuUsPerOp)),
});
const median = (who: 'berth' | 'tgt', i: number): number => {
  const v = all[who].map((x) => x[i].rate).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
console.log(`best of ${rounds} round(s); median rate in brackets`);
console.log(['workload', 'unit', 'berth', 'tgt', 'ratio', 'berth CPU µs/op', 'tgt CPU µs/op'].join('\t'));
PHASES.forEach((ph, i) => {
  const b = best('berth', i);
  const t = best('tgt', i);
  console.log([ph.name, ph.unit, `${b.rate} [${median('berth', i)}]`, `${t.rate} [${median('tgt', i)}]`, (b.rate / t.rate).toFixed(2), b.cpuUsPerOp, t.cpuUsPerOp].join('\t'));
});
