/**
 * Side-by-side benchmark: Berth's iSCSI target (serving the test-double SCSI target over
 * a /dev/shm file, fs.read/fs.write through libuv) against tgtd serving the same kind of
 * file. Runs iscsi-perf (4k random read QD32) and qemu-img bench (4k random write
 * QD32, 1 MiB sequential read/write). Not a test: `node test/iscsi/perf_compare.ts [seconds]`.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync, ftruncateSync } from 'node:fs';
import { IscsiServer } from '../../src/iscsi/index.ts';
import { MemoryScsiTarget } from './memory_scsi_target.ts';

const seconds = Number(process.argv[2] === '--client' ? process.argv[4] : (process.argv[2] ?? 10));
const SIZE = 1024 * 1024 * 1024;
const IQN = 'iqn.2026-01.io.berth:perf';

function bench(url: string): Record<string, number> {
  const out: Record<string, number> = {};
  const perf = spawnSync('iscsi-perf', ['-m', '32', '-b', '8', '-r', '-t', String(seconds), url], { encoding: 'utf8' });
  const m = /iops average (\d+)[^\n]*\n*finished/.exec(perf.stdout + perf.stderr) ?? /iops average (\d+)/.exec((perf.stdout + perf.stderr).split('\r').pop() ?? '');
  const all = [...(perf.stdout + perf.stderr).matchAll(/iops average (\d+)/g)];
  out['iscsi-perf 4k randread QD32 IOPS'] = Number(all.at(-1)?.[1] ?? m?.[1] ?? NaN);
  const qb = (args: string[]): number => {
    const r = spawnSync('qemu-img', ['bench', '-f', 'raw', '-t', 'none', '-i', 'threads', ...args, url], { encoding: 'utf8' });
    const t = /Run completed in ([\d.]+) seconds/.exec(r.stdout);
    return t ? Number(t[1]) : NaN;
  };
  const n4k = 200000;
  let t = qb(['-w', '-c', String(n4k), '-d', '32', '-s', '4k']);
  out['qemu-img bench 4k seq write QD32 IOPS'] = Math.round(n4k / t);
  t = qb(['-c', String(n4k), '-d', '32', '-s', '4k']);
  out['qemu-img bench 4k seq read QD32 IOPS'] = Math.round(n4k / t);
  const n1m = 4000;
  t = qb(['-w', '-c', String(n1m), '-d', '8', '-s', '1M']);
  out['qemu-img bench 1M seq write QD8 MB/s'] = Math.round((n1m * 1.048576) / t);
  t = qb(['-c', String(n1m), '-d', '8', '-s', '1M']);
  out['qemu-img bench 1M seq read QD8 MB/s'] = Math.round((n1m * 1.048576) / t);
  return out;
}

async function berth(): Promise<Record<string, number>> {
  const file = `/dev/shm/berth-perf-${process.pid}`;
  const fd = openSync(file, 'w+');
  ftruncateSync(fd, SIZE);
  const srv = new IscsiServer({ host: '127.0.0.1', port: 0 });
  srv.addTarget({ iqn: IQN, scsi: new MemoryScsiTarget({ 0: SIZE }, fd) });
  const { port } = await srv.listen();
  // Run the clients in a child so this event loop only serves the target.
  const child = spawn(process.execPath, [import.meta.filename, '--client', `iscsi://127.0.0.1:${port}/${IQN}/0`, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  await new Promise((r) => child.on('exit', r));
  await srv.close();
  closeSync(fd);
  rmSync(file);
  return JSON.parse(text) as Record<string, number>;
}

function tgt(): Record<string, number> {
  const file = `/dev/shm/tgt-perf-${process.pid}`;
  const fd = openSync(file, 'w+');
  ftruncateSync(fd, SIZE);
  closeSync(fd);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const ctl = String(100 + Math.floor(Math.random() * 800));
  const tgtd = spawn('tgtd', ['-f', '--iscsi', `portal=127.0.0.1:${port}`, '-C', ctl], { stdio: 'ignore' });
  const adm = (...a: string[]): void => void execFileSync('tgtadm', ['-C', ctl, '--lld', 'iscsi', ...a]);
  try {
    for (let i = 0; i < 50; i++) {
      try { adm('--mode', 'target', '--op', 'new', '--tid', '1', '-T', IQN); break; } catch { execFileSync('sleep', ['0.1']); }
    }
    adm('--mode', 'logicalunit', '--op', 'new', '--tid', '1', '--lun', '1', '-b', file);
    adm('--mode', 'target', '--op', 'bind', '--tid', '1', '-I', 'ALL');
    return bench(`iscsi://127.0.0.1:${port}/${IQN}/1`);
  } finally {
    try { adm('--mode', 'target', '--op', 'delete', '--force', '--tid', '1'); } catch { /* already gone */ }
    try { execFileSync('tgtadm', ['-C', ctl, '--mode', 'system', '--op', 'delete']); } catch { /* exiting */ }
    tgtd.kill('SIGKILL');
    rmSync(file);
  }
}

if (process.argv[2] === '--client') {
  process.stdout.write(JSON.stringify(bench(process.argv[3])));
} else {
  const b = await berth();
  const t = tgt();
  console.log(['metric', 'berth', 'tgt', 'berth/tgt'].join('\t'));
  for (const k of Object.keys(b)) console.log([k, b[k], t[k], (b[k] / t[k]).toFixed(2)].join('\t'));
}
