/**
 * `berth bench` against a real engine: a Berth volume exported over iSCSI and a local
 * file, a one-second run per row; and pgbench on an ext4 on another Berth volume (attached
 * in user space: qemu-storage-daemon + FUSE + loop, as the CSI node plugin does here) and
 * on local disk. Asserts the report's shape (rows, numbers on both sides, numeric
 * ratios), never a speed: the machine is shared.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { createVolume, exportedVolume, exportVolume } from '../helpers/api.ts';
import { fioPath, repoRoot, run } from '../helpers/tools.ts';
import { HostCommandRunner } from '../../src/csi/node_exec.ts';
import { UserSpaceAttacher } from '../../src/csi/user_space_attacher.ts';
import type { AttachedDevice, TargetAddress } from '../../src/csi/attacher.ts';

const BIN = join(repoRoot, 'bin', 'berth');
const MiB = 1024 * 1024;
let engine: EngineProcess | undefined;
let dir = '';
let url = '';
const fio = fioPath();
const runner = new HostCommandRunner();
let attacher: UserSpaceAttacher | undefined;
let attached: { target: TargetAddress; device: AttachedDevice } | undefined;
let mounted = '';

before(async () => {
  if (!fio) return;
  dir = mkdtempSync(join(tmpdir(), `berth-hostbench-${process.pid}-`));
  // PostgreSQL runs as the postgres user (root may not run it): it must reach the dirs below.
  chmodSync(dir, 0o755);
  engine = await startEngine({ poolRoots: [dir] });
  const exp = await exportedVolume(engine.api, {
    pool: { name: 'bench', path: join(dir, 'pool.img'), sizeBytes: 512 * MiB },
    volume: { name: 'vol', sizeBytes: 64 * MiB },
  });
  url = exp.url;
});

after(async () => {
  if (mounted) await run('umount', [mounted]).catch(() => run('umount', ['-l', mounted]));
  if (attached) await attacher?.detach('pg').catch(() => undefined);
  await engine?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('berth bench: Berth and local side by side, four rows with numeric ratios', { skip: !fio && 'scripts/build-fio.sh has not been run' }, async () => {
  const local = join(dir, 'local');
  rmSync(local, { recursive: true, force: true });
  await run('mkdir', ['-p', local]);
  const args = ['-o', 'json', 'bench', '--url', url, '--overwrite', '--size', '16MiB', '--runtime', '1', '--ramp', '0', '--local-dir', local, '--fio', fio!];
  const out = await run(BIN, args, { timeoutMs: 10 * 60_000 });
  const report = JSON.parse(out.stdout) as { rows: { id: string; ratio?: number; berth: { iops?: number; error?: string }; local: { iops?: number; error?: string } }[] };
  assert.deepEqual(report.rows.map((r) => r.id), ['randread-4k-qd32', 'randwrite-4k-qd32', 'read-1m-qd8', 'write-1m-qd8']);
  for (const r of report.rows) {
    assert.equal(r.berth.error, undefined, `${r.id} on Berth: ${r.berth.error}`);
    assert.equal(r.local.error, undefined, `${r.id} locally: ${r.local.error}`);
    assert.ok(typeof r.ratio === 'number' && Number.isFinite(r.ratio) && r.ratio > 0, `${r.id} ratio ${r.ratio}`);
  }
  assert.deepEqual(readdirSync(local), [], 'the local comparison file is removed');

  const table = (await run(BIN, args.slice(2), { timeoutMs: 10 * 60_000 })).stdout;
  for (const label of ['4k randread QD32 1 job', '4k randwrite QD32 1 job', '1M seq read QD8', '1M seq write QD8']) {
    assert.match(table, new RegExp(`${label}.*IOPS|${label}.*MiB/s`), label);
  }
  assert.equal(table.match(/\d+\.\d\d×/g)?.length, 4, table);
  assert.match(table, /Workload.*Berth.*Local.*Berth\/local/);
});

test('berth bench refuses without --overwrite and without a URL, before running fio', async () => {
  const noOk = await run(BIN, ['bench', '--url', 'iscsi://127.0.0.1:1/iqn.x:y/0'], { timeoutMs: 60_000 }).catch((e: { result?: { stderr: string } }) => e.result);
  assert.match(noOk?.stderr ?? '', /add --overwrite to confirm/);
  const noUrl = await run(BIN, ['bench', '--overwrite'], { timeoutMs: 60_000 }).catch((e: { result?: { stderr: string } }) => e.result);
  assert.match(noUrl?.stderr ?? '', /give --url iscsi:\/\//);
});

test('berth bench --pgbench-dir: pgbench TPC-B-like and select-only on a Berth volume\'s ext4 and on local disk', { skip: !fio && 'scripts/build-fio.sh has not been run', timeout: 15 * 60_000 }, async () => {
  await createVolume(engine!.api, 'bench', { name: 'pg', sizeBytes: 192 * MiB });
  const exp = await exportVolume(engine!.api, { pool: 'bench', volume: 'pg' });
  attacher = new UserSpaceAttacher({ runner, stateDir: join(dir, 'csi-state'), initiatorName: `iqn.2026-12.io.berth.test:bench-${process.pid}` });
  const target = { portal: exp.portal, iqn: exp.targetIqn, lun: exp.lun };
  attached = { target, device: await attacher.attach({ volumeId: 'pg', ...target }) };
  await run('mkfs.ext4', ['-q', '-F', attached.device.devicePath], { timeoutMs: 300_000 });
  const mnt = join(dir, 'pg-mnt');
  await run('mkdir', ['-p', mnt]);
  await run('mount', [attached.device.devicePath, mnt]);
  mounted = mnt;
  const local = join(dir, 'pg-local');
  await run('mkdir', ['-p', local]);

  const out = await run(BIN, ['-o', 'json', 'bench', '--pgbench-dir', mnt, '--pgbench-scale', '1', '--pgbench-clients', '2', '--runtime', '1', '--local-dir', local], { timeoutMs: 12 * 60_000 });
  const report = JSON.parse(out.stdout) as { rows: unknown[]; pgbench: { id: string; ratio?: number; berth: { tps?: number; error?: string }; local: { tps?: number; error?: string } }[] };
  assert.deepEqual(report.rows, [], 'no --url: no fio rows (fio would overwrite a mounted filesystem)');
  assert.deepEqual(report.pgbench.map((r) => r.id), ['pgbench-tpcb', 'pgbench-select']);
  for (const r of report.pgbench) {
    assert.equal(r.berth.error, undefined, `${r.id} on Berth: ${r.berth.error}`);
    assert.equal(r.local.error, undefined, `${r.id} locally: ${r.local.error}`);
    assert.ok(typeof r.ratio === 'number' && Number.isFinite(r.ratio) && r.ratio > 0, `${r.id} ratio ${r.ratio}`);
  }
  assert.deepEqual(readdirSync(mnt).filter((f) => f !== 'lost+found'), [], 'the Berth-side cluster is removed');
  assert.deepEqual(readdirSync(local), [], 'the local cluster is removed');
});
