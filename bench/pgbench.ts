/**
 * PostgreSQL on ext4 on three block devices, pgbench TPC-B-like (8 clients and 1) and
 * select-only, rounds interleaved (the targets alternate order each round):
 * - Berth: a thick volume through the node plugin's user-space attach path
 *   (qemu-storage-daemon iSCSI → FUSE export → loop);
 * - raw file: the same path with a plain local file behind qemu-storage-daemon;
 * - local loop: a local file on a loop device.
 * Then a 2-replica row (bench/pgbench_replicated.ts). Ratios are medians of per-round
 * ratios; the engine's CPU per transaction comes from /proc over each run.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pgBinDir } from '../src/cli/bench_pgbench.ts';
import { mountIscsi, mountLocalLoop, mountRawFileQsd, type Mounted } from './pgbench_attach.ts';
import { PgCluster } from './pgbench_pg.ts';
import { runPgbenchReplicated } from './pgbench_replicated.ts';
import { interleave, volumeBytesFor, type PgbenchOptions, type PgContender } from './pgbench_rounds.ts';
import { PG_MODES, pgTable } from './pgbench_table.ts';
import { run } from '../test/helpers/tools.ts';
import { startTarget, TargetKind, type RunningTarget } from './targets.ts';

const BERTH = 'Berth';
const RAW = 'raw file';
const LOOP = 'local loop';

/** The single-replica table: Berth, the same path on a raw file, a local loop device. */
export async function runPgbenchSingle(o: PgbenchOptions, bin: string): Promise<string> {
  mkdirSync(o.dir, { recursive: true });
  const scratch = mkdtempSync(join(o.dir, 'berth-pgbench-'));
  // PostgreSQL runs as the postgres user: it must be able to walk down to the mounts.
  chmodSync(scratch, 0o755);
  const size = volumeBytesFor(o.scale);
  const mounts: Mounted[] = [];
  const cs: PgContender[] = [];
  let target: RunningTarget | undefined;
  try {
    target = await startTarget(TargetKind.berth, { baseDir: scratch, sizeBytes: size, blockSize: 512, thin: false });
    const tag = `pg${process.pid}`;
    const sides: { name: string; mount: () => Promise<Mounted>; pids: number[] }[] = [
      { name: BERTH, mount: () => mountIscsi(target!.url, scratch, `${tag}-berth`), pids: [target.pid] },
      { name: RAW, mount: () => mountRawFileQsd(scratch, `${tag}-raw`, size), pids: [] },
      { name: LOOP, mount: () => mountLocalLoop(scratch, `${tag}-loop`, size), pids: [] },
    ];
    for (const s of sides) {
      o.log(`pgbench: ${s.name}: attach, mkfs.ext4, initdb, pgbench -i -s ${o.scale}`);
      const m = await s.mount();
      mounts.push(m);
      cs.push({ name: s.name, pg: await PgCluster.create(bin, m.dir, o.scale), enginePids: s.pids });
    }
    const results = await interleave(cs, PG_MODES, o.rounds, o.runtimeS, o.log);
    return pgTable(results, [BERTH, RAW, LOOP], [{ subject: BERTH, base: RAW }, { subject: BERTH, base: LOOP }], BERTH);
  } finally {
    for (const c of cs) await c.pg.stop();
    for (const m of mounts.reverse()) await m.unmount().catch((err: Error) => o.log(`pgbench: unmount ${m.dir}: ${err.message.split('\n')[0]}`));
    await target?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The `npm run bench` section. Skips loudly when PostgreSQL is not installed. */
export async function pgbenchSection(o: PgbenchOptions): Promise<string> {
  const parts = ['## PostgreSQL (pgbench)', ''];
  let bin: string;
  try {
    bin = pgBinDir(undefined);
  } catch (err) {
    o.log(`pgbench: SKIPPED: ${(err as Error).message} (apt-get install postgresql)`);
    return [...parts, `Skipped: ${(err as Error).message}.`].join('\n');
  }
  const qsd = await run('qemu-storage-daemon', ['--version'], { check: false }).catch(() => undefined);
  if (qsd === undefined || qsd.code !== 0) {
    o.log('pgbench: SKIPPED: qemu-storage-daemon is missing (apt-get install qemu-system-common qemu-block-extra)');
    return [...parts, 'Skipped: qemu-storage-daemon (the user-space attach path) is not installed.'].join('\n');
  }
  parts.push(
    `PostgreSQL (${bin}), default settings (fsync on), ext4 on each device; pgbench scale ${o.scale}, ${o.runtimeS} s per run,`,
    `${o.rounds} rounds with the targets alternating order, a CHECKPOINT before each run. Figures are medians over rounds;`,
    'ratios are medians of per-round ratios. "Berth" is a thick volume through the node plugin\'s user-space attach path',
    '(qemu-storage-daemon iSCSI → FUSE export → loop, src/csi/user_space_attacher.ts); "raw file" is the same path with a',
    'local file behind qemu-storage-daemon; "local loop" a local file on a loop device. Files in ' + `${o.dir}.`,
    'Engine CPU per transaction is the engine\'s user+system time (/proc) over the run divided by the transactions.', '');
  parts.push(await runPgbenchSingle(o, bin).catch((err: Error) => {
    o.log(`pgbench failed: ${err.message.split('\n')[0]}`);
    return `failed: ${err.message.split('\n')[0]}`;
  }));
  if (o.replicated) {
    parts.push('', '### 2 replicas', '');
    parts.push(await runPgbenchReplicated(o, bin).catch((err: Error) => {
      o.log(`pgbench replicated failed: ${err.message.split('\n')[0]}`);
      return `failed: ${err.message.split('\n')[0]}`;
    }));
  }
  return parts.join('\n');
}
