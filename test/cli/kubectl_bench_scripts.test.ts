/**
 * The shell the `kubectl berth bench --class` Jobs run, run here with sh in a temp
 * directory in place of the Job's /bench mount: Debian's fio and PostgreSQL (the bench
 * image's packages) on this host. Their logs go through the same parsing as a Job's, so
 * the markers, fio's JSON and pgbench's tps are checked end to end, and the scripts must
 * leave their working directories behind them removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MOUNT, fioCells, fioScript, parseJobLog, pgbenchCells, pgbenchScript, type ClusterBenchPlan } from '../../src/cli/kubectl_bench.ts';

const haveFio = existsSync('/usr/bin/fio');
const havePg = existsSync('/usr/lib/postgresql') && process.getuid?.() === 0;

function sh(script: string): Promise<{ code: number; out: string }> {
  assert.ok(!script.includes(`${MOUNT}/`), 'the script works in the temp directory only');
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', script], { timeout: 300_000, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `berth-kbench-${process.pid}-`));
  chmodSync(dir, 0o755); // PostgreSQL runs as the postgres user and must enter it
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const plan: ClusterBenchPlan = {
  runId: `berth-bench-t${process.pid}`, namespace: 'x', storageClass: 'x', image: 'x', claimSize: '1Gi',
  fileBytes: 16 * 2 ** 20, runtimeS: 1, rampS: 0, hostDir: 'x', fio: true, pgbench: { scale: 1, clients: 2 },
};

test('the fio Job\'s script: four rows of fio JSON with figures, its file removed', { skip: !haveFio && 'no /usr/bin/fio (apt-get install fio)', timeout: 300_000 }, async () => {
  await withDir(async (dir) => {
    const r = await sh(fioScript(plan, 'local', dir));
    assert.equal(r.code, 0, r.out);
    const log = parseJobLog(r.out);
    assert.equal(typeof log.direct, 'boolean', 'the script says whether O_DIRECT worked');
    const cells = fioCells(log);
    for (const c of cells) assert.ok(!('error' in c) && c.iops > 0 && c.mibPerSec > 0, JSON.stringify(c));
    assert.deepEqual(readdirSync(dir), [], 'the script removed its directory');
  });
});

test('the pgbench Job\'s script: TPC-B-like and select-only tps, the cluster stopped and removed', { skip: !havePg && 'needs root and PostgreSQL (apt-get install postgresql)', timeout: 300_000 }, async () => {
  await withDir(async (dir) => {
    const r = await sh(pgbenchScript(plan, 'berth', dir));
    assert.equal(r.code, 0, r.out);
    const cells = pgbenchCells(parseJobLog(r.out));
    for (const c of cells) assert.ok('tps' in c && c.tps > 0, `${JSON.stringify(c)}\n${r.out}`);
    assert.deepEqual(readdirSync(dir), [], 'the script removed its data directory');
  });
});

test('a setup failure is reported on every row, not as a crash', { skip: !haveFio && 'no /usr/bin/fio', timeout: 120_000 }, async () => {
  await withDir(async (dir) => {
    // A file where the script wants its directory: mkdir fails, and no row runs.
    writeFileSync(join(dir, `${plan.runId}-fio-local`), '');
    const r = await sh(fioScript(plan, 'local', dir));
    assert.notEqual(r.code, 0);
    const cells = fioCells(parseJobLog(r.out));
    for (const c of cells) assert.match((c as { error: string }).error, /^mkdir: .*File exists/);
  });
});
