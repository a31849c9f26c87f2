/**
 * `kubectl berth bench --class` removes what it created when its Jobs fail and when it
 * is interrupted: the real plugin (bin/kubectl-berth) with a stand-in `kubectl` on PATH
 * that records its calls and answers with Job states and logs the test chooses (the lab
 * cluster is not always running; test/k8s runs the bench on the real one).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, sleep } from '../helpers/tools.ts';

const dir = mkdtempSync(join(tmpdir(), `berth-kbench-clean-${process.pid}-`));
after(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(join(dir, 'kubectl'), `#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in
  "apply -f -") cat >> "$CALLS.applied"; echo >> "$CALLS.applied" ;;
  "get storageclass missing -o name") echo 'Error from server (NotFound): storageclasses.storage.k8s.io "missing" not found' >&2; exit 1 ;;
  "get job -n "*)
    if [ "$JOB_STATE" = failed ]; then echo '{"status":{"failed":1,"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded","message":"Job has reached the specified backoff limit"}]}}'
    else echo '{"status":{}}'; fi ;;
  "get pods -n "*) echo '{"items":[{"spec":{"nodeName":"worker-2"},"status":{"phase":"Running"}}]}' ;;
  "logs -n "*) echo '@@berth-bench fail mkdir: cannot create directory: Read-only file system' ;;
esac
exit 0
`);
chmodSync(join(dir, 'kubectl'), 0o755);

interface Run { code: number | null; stdout: string; stderr: string; calls: string[]; applied: string }

function plugin(args: string[], env: Record<string, string>, interruptWhen?: (calls: string[]) => boolean): Promise<Run> {
  const calls = join(dir, `calls-${Math.random().toString(36).slice(2)}`);
  writeFileSync(calls, '');
  writeFileSync(`${calls}.applied`, '');
  const read = (): string[] => readFileSync(calls, 'utf8').trim().split('\n').filter((l) => l !== '');
  const child = spawn(join(repoRoot, 'bin', 'kubectl-berth'), args, { env: { PATH: `${dir}:/usr/bin:/bin`, CALLS: calls, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  let watching = interruptWhen !== undefined;
  void (async () => {
    while (watching) {
      if (interruptWhen!(read())) {
        child.kill('SIGINT');
        return;
      }
      await sleep(100);
    }
  })();
  return new Promise((resolve) => {
    child.on('close', (code) => {
      watching = false;
      clearTimeout(killer);
      resolve({ code, stdout, stderr, calls: read(), applied: readFileSync(`${calls}.applied`, 'utf8') });
    });
  });
}

const deletes = (r: Run): string[] => r.calls.filter((c) => c.startsWith('delete '));

test('failed Jobs: every row says why, and the Jobs and then the PVC are deleted by the run\'s label', { timeout: 180_000 }, async () => {
  const r = await plugin(['-n', 'bench', 'bench', '--class', 'fast', '--quick'], { JOB_STATE: 'failed' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /│ 4k randread QD32 1 job\s+│ failed: mkdir: cannot create directory: Read-only file sys/);
  assert.match(r.stdout, /│ pgbench select-only\s+│ failed: mkdir/);
  assert.match(r.stdout, /both on node worker-2/);
  const runId = /"bench\.berth\.io\/run":"(berth-bench-[0-9a-f]+)"/.exec(r.applied)?.[1];
  assert.ok(runId, r.applied.slice(0, 500));
  // The Berth side ran wherever the scheduler put it; the local side was pinned to that node.
  assert.match(r.applied, /"name":"[^"]+-fio-local".*"values":\["worker-2"\]/);
  assert.deepEqual(deletes(r), [
    `delete job -n bench -l bench.berth.io/run=${runId} --ignore-not-found --wait=true --cascade=foreground --timeout=180s`,
    `delete pvc -n bench -l bench.berth.io/run=${runId} --ignore-not-found --wait=true --timeout=300s`,
  ]);
});

test('Ctrl-C while a Job runs: the plugin deletes the Jobs and the PVC, then exits 130', { timeout: 180_000 }, async () => {
  const r = await plugin(['-n', 'bench', 'bench', '--class', 'fast'], { JOB_STATE: 'running' }, (calls) => calls.some((c) => c.startsWith('get job')));
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /SIGINT: removing the bench's Jobs and PVC/);
  const d = deletes(r);
  assert.equal(d.length, 2, r.calls.join('\n'));
  assert.match(d[0], /^delete job -n bench -l bench\.berth\.io\/run=berth-bench-[0-9a-f]+ /);
  assert.match(d[1], /^delete pvc -n bench -l bench\.berth\.io\/run=berth-bench-[0-9a-f]+ /);
});

test('a StorageClass that does not exist: refused before anything is created', { timeout: 60_000 }, async () => {
  const r = await plugin(['bench', '--class', 'missing'], { JOB_STATE: 'failed' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NOT_FOUND: no StorageClass 'missing'/);
  assert.equal(r.applied, '', 'no PVC or Job');
});
