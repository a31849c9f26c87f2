/**
 * PostgreSQL on ext4 on three block devices, pgbench TPC-B-like (8 clients and 1) and
 * select-only, rounds interleaved (the targets alternate order each round):
 * - Berth: a thick volume through the node plugin's user-space attach path
 *   (qemu-storage-daemon iSCSI → FUSE export → loop);
 * - Berth local attach: a second engine's thick volume served over FUSE by the engine itself, loop;
 * - raw file: the same path with a plain local file behind qemu-storage-daemon;
 * - local loop: a local file on a loop device.
 * Then a 2-replica row (bench/pgbench_replicated.ts). Ratios are medians of per-round
 * ratios; the engine's CPU per transaction comes from /proc over each run.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pgBinDir } from '../src/cli/bench_pgbench.ts';
import { attachIscsi, attachLocalFuse, attachLocalLoop, attachRawFileQsd, mountExt4, type Attached, type Mounted } from './pgbench_attach.ts';
import { attachCommitMarkdown, runAttachCommit, type CommitDevice } from './commit_latency_attach.ts';
import { wrapFor } from './commit_latency.ts';
import { PgCluster } from './pgbench_pg.ts';
import { runPgbenchReplicated } from './pgbench_replicated.ts';
import { interleave, volumeBytesFor, type PgbenchOptions, type PgContender } from './pgbench_rounds.ts';
import { PG_MODES, pgTable } from './pgbench_table.ts';
import { fioPath, run } from '../test/helpers/tools.ts';
import { startTarget, TargetKind, type RunningTarget } from './targets.ts';
import { withChildren } from './proc_stat.ts';

const BERTH = 'Berth';
const RAW = 'raw file';
const LOOP = 'local loop';
const LOCAL = 'Berth local attach';
const COMPARED = 'Berth (compared checkout)';

const COMMIT_REGION_BYTES = 256 * 2 ** 20;

/**
 * The single-replica tables: first the commit row (fio `--fsync=1` on the bare attached
 * devices, before mkfs), then pgbench on ext4: Berth, the same path on a raw file, a local
 * loop device.
 */
export async function runPgbenchSingle(o: PgbenchOptions, bin: string): Promise<string> {
  mkdirSync(o.dir, { recursive: true });
  const scratch = mkdtempSync(join(o.dir, 'berth-pgbench-'));
  // PostgreSQL runs as the postgres user: it must be able to walk down to the mounts.
  chmodSync(scratch, 0o755);
  const size = volumeBytesFor(o.scale);
  const attached: Attached[] = [];
  /** Attached and not handed to mountExt4 (which detaches on its own failure, and on unmount). */
  const unmounted = new Set<Attached>();
  const mounts: Mounted[] = [];
  const cs: PgContender[] = [];
  const parts: string[] = [];
  let target: RunningTarget | undefined;
  let compared: RunningTarget | undefined;
  let local: RunningTarget | undefined;
  try {
    target = await startTarget(TargetKind.berth, { baseDir: scratch, sizeBytes: size, blockSize: 512, thin: false });
    // A second engine, so the local attach has a volume of its own to put ext4 on.
    const localDir = mkdtempSync(join(scratch, 'local-'));
    local = await startTarget(TargetKind.berth, {
      baseDir: localDir, sizeBytes: size, blockSize: 512, thin: false, engineArgs: ['--local-attach-dir', join(localDir, 'attach')],
    });
    const l = local;
    const tag = `pg${process.pid}`;
    const sides: { name: string; attach: () => Promise<Attached>; pids: number[] }[] = [
      { name: BERTH, attach: () => attachIscsi(target!.url, scratch, `${tag}-berth`), pids: [target.pid] },
      // The keeper and its worker: the worker's CPU is the engine's.
      { name: LOCAL, attach: () => attachLocalFuse(l.api!, 'bench', 'vol'), pids: withChildren(l.pid) },
      { name: RAW, attach: () => attachRawFileQsd(scratch, `${tag}-raw`, size), pids: [] },
      { name: LOOP, attach: () => attachLocalLoop(scratch, `${tag}-loop`, size), pids: [] },
    ];
    if (o.compareEngine !== undefined) {
      const dir = mkdtempSync(join(scratch, 'compared-'));
      const t = await startTarget(TargetKind.berth, { baseDir: dir, sizeBytes: size, blockSize: 512, thin: false, engineWrap: wrapFor(o.compareEngine) });
      compared = t;
      sides.splice(1, 0, { name: COMPARED, attach: () => attachIscsi(t.url, scratch, `${tag}-cmp`), pids: [t.pid] });
    }
    for (const s of sides) {
      const a = await s.attach();
      attached.push(a);
      unmounted.add(a);
    }
    if ((o.commitRounds ?? o.rounds) > 0) parts.push(await commitRows(o, sides.map((s, i) => ({ name: s.name, device: attached[i].device, pids: s.pids, servicePids: attached[i].pids }))));
    if (o.commitOnly) return parts.join('\n\n');
    for (const [i, s] of sides.entries()) {
      o.log(`pgbench: ${s.name}: mkfs.ext4, initdb, pgbench -i -s ${o.scale}`);
      const a = attached[i];
      unmounted.delete(a);
      const m = await mountExt4(a, scratch);
      mounts.push(m);
      cs.push({ name: s.name, pg: await PgCluster.create(bin, m.dir, o.scale), enginePids: s.pids });
    }
    const results = await interleave(cs, PG_MODES, o.rounds, o.runtimeS, o.log);
    const names = sides.map((x) => x.name);
    if (parts.length > 0) parts.push('### pgbench');
    parts.push(pgTable(results, names, [{ subject: BERTH, base: RAW }, { subject: LOCAL, base: RAW }, { subject: BERTH, base: LOOP },
      ...(compared ? [{ subject: COMPARED, base: RAW }, { subject: BERTH, base: COMPARED }] : [])], [BERTH, LOCAL]));
    return parts.join('\n\n');
  } finally {
    for (const c of cs) await c.pg.stop();
    for (const m of mounts.reverse()) await m.unmount().catch((err: Error) => o.log(`pgbench: unmount ${m.dir}: ${err.message.split('\n')[0]}`));
    for (const a of unmounted) await a.detach().catch((err: Error) => o.log(`pgbench: detach ${a.device}: ${err.message.split('\n')[0]}`));
    await target?.stop();
    await local?.stop();
    await compared?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** fio's commit pattern on each attached device; a table, or a line saying why not. */
async function commitRows(o: PgbenchOptions, devices: CommitDevice[]): Promise<string> {
  // Debian's fio or the one scripts/build-fio.sh built (psync is in both).
  const fio = fioPath() ?? 'fio';
  const version = await run(fio, ['--version'], { check: false }).catch(() => undefined);
  if (version === undefined || version.code !== 0) {
    o.log('pgbench: commit row SKIPPED: fio is missing (apt-get install fio)');
    return 'Commit row skipped: fio is not installed.';
  }
  const runtimeS = Math.min(10, o.runtimeS);
  const r = await runAttachCommit({ fio, devices, rounds: o.commitRounds ?? o.rounds, runtimeS, regionBytes: COMMIT_REGION_BYTES, log: o.log });
  return [
    '### Commit latency on the attach path (fio 4k randwrite QD1 `--fsync=1`)', '',
    `fio (psync, buffered, as PostgreSQL writes) on each bare loop device before mkfs; ${o.commitRounds ?? o.rounds} rounds of ${runtimeS} s, the`,
    'targets alternating order. "commit p50" is the p50 write completion plus the p50 fsync; ratios are medians of',
    'per-round ratios against the raw file. The issue-14 bar: Berth\'s commit p50 within 1.3× the raw file\'s. "engine CPU"',
    'is the engine\'s user+system time per commit (/proc), "path CPU" adds the qemu-storage-daemon\'s (the kernel\'s loop',
    'and FUSE work is in neither).', '',
    attachCommitMarkdown(r, devices.map((d) => d.name), RAW),
  ].join('\n');
}

/** The `npm run bench` section. Skips loudly when PostgreSQL is not installed. */
export async function pgbenchSection(o: PgbenchOptions): Promise<string> {
  const parts = ['## PostgreSQL (pgbench)', ''];
  const qsd = await run('qemu-storage-daemon', ['--version'], { check: false }).catch(() => undefined);
  if (qsd === undefined || qsd.code !== 0) {
    o.log('pgbench: SKIPPED: qemu-storage-daemon is missing (apt-get install qemu-system-common qemu-block-extra)');
    return [...parts, 'Skipped: qemu-storage-daemon (the user-space attach path) is not installed.'].join('\n');
  }
  let bin: string;
  try {
    bin = pgBinDir(undefined);
  } catch (err) {
    o.log(`pgbench: SKIPPED: ${(err as Error).message} (apt-get install postgresql); the commit row still runs`);
    parts.push(`PostgreSQL skipped: ${(err as Error).message}.`, '');
    // The commit row needs only the attach path and fio.
    parts.push(await runPgbenchSingle({ ...o, commitOnly: true }, '').catch((e: Error) => `failed: ${e.message.split('\n')[0]}`));
    return parts.join('\n');
  }
  parts.push(
    `PostgreSQL (${bin}), default settings (fsync on), ext4 on each device; pgbench scale ${o.scale}, ${o.runtimeS} s per run,`,
    `${o.rounds} rounds with the targets alternating order, a CHECKPOINT before each run. Figures are medians over rounds;`,
    'ratios are medians of per-round ratios. "Berth" is a thick volume through the node plugin\'s user-space attach path',
    '(qemu-storage-daemon iSCSI → FUSE export → loop, src/csi/user_space_attacher.ts); "raw file" is the same path with a',
    'local file behind qemu-storage-daemon; "Berth local attach" is a thick volume of a second engine served to the node',
    'over FUSE by the engine itself (`--local-attach-dir`, docs/local-attach.md), loop on its file; "local loop" a local',
    'file on a loop device. Files in ' + `${o.dir}.`,
    'Engine CPU per transaction is the engine\'s user+system time (/proc) over the run divided by the transactions.', '');
  parts.push(await runPgbenchSingle(o, bin).catch((err: Error) => {
    o.log(`pgbench failed: ${err.message.split('\n')[0]}`);
    return `failed: ${err.message.split('\n')[0]}`;
  }));
  if (o.replicated && !o.commitOnly) {
    parts.push('', '### 2 replicas', '');
    parts.push(await runPgbenchReplicated(o, bin).catch((err: Error) => {
      o.log(`pgbench replicated failed: ${err.message.split('\n')[0]}`);
      return `failed: ${err.message.split('\n')[0]}`;
    }));
  }
  return parts.join('\n');
}
