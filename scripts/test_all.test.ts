import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSummary, parseRunnerCounts, totals, type StepResult } from './test_summary.ts';
import { runSteps } from './test_runner.ts';
import { TEST_STEPS } from './test_steps.ts';

const SPEC_TAIL = ['✖ failing tests:', '', 'ℹ tests 12', 'ℹ suites 0', 'ℹ pass 9', 'ℹ fail 2', 'ℹ cancelled 1', 'ℹ skipped 3', 'ℹ todo 0', 'ℹ duration_ms 812.5'].join('\n');

test('counts come from the last runner summary, spec or TAP; cancelled counts as failed', () => {
  assert.deepEqual(parseRunnerCounts(`ℹ pass 1\nℹ fail 0\n${SPEC_TAIL}\n`), { passed: 9, failed: 3, skipped: 3 });
  assert.deepEqual(parseRunnerCounts('# tests 4\n# pass 4\n# fail 0\n# cancelled 0\n'), { passed: 4, failed: 0, skipped: 0 });
  assert.equal(parseRunnerCounts('Segmentation fault\n'), undefined);
});

test('a failed step without test counts, or one that exits non-zero with none failed, still adds a failure', () => {
  const results: StepResult[] = [
    { name: 'typecheck', exitCode: 2, durationMs: 1000, counts: undefined },
    { name: 'lint', exitCode: 0, durationMs: 500, counts: undefined },
    { name: 'unit', exitCode: 1, durationMs: 30_000, counts: { passed: 470, failed: 5, skipped: 0 } },
    { name: 'integration', exitCode: 1, durationMs: 9000, counts: { passed: 3, failed: 0, skipped: 2 } },
  ];
  assert.deepEqual(totals(results), { passed: 474, failed: 7, skipped: 2 });
  const summary = formatSummary(results);
  assert.match(summary, /^typecheck\s+FAILED\s+1\.0 s\s+exit code 2$/m);
  assert.match(summary, /^unit\s+FAILED\s+30\.0 s\s+470 passed, 5 failed$/m);
  assert.match(summary, /failed steps: typecheck, unit, integration/);
  assert.equal(summary.trimEnd().split('\n').at(-1), '474 passed, 7 failed');
});

test('every step runs even when an earlier one fails, and each is summed', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), `berth-test-all-${process.pid}-`));
  try {
    writeFileSync(join(dir, 'two.test.ts'), "import { test } from 'node:test';\ntest('a', () => {});\ntest('b', () => { throw new Error('no'); });\n");
    let out = '';
    const results = await runSteps([
      { name: 'broken', command: [process.execPath, '-e', 'process.exit(3)'], tests: false },
      { name: 'suite', command: [process.execPath, '--test', '--test-reporter=spec', 'two.test.ts'], tests: true },
      { name: 'missing', command: [join(dir, 'no-such-tool')], tests: false },
    ], dir, { out: (c) => { out += String(c); }, err: (c) => { out += String(c); } });
    assert.deepEqual(results.map((r) => [r.name, r.exitCode]), [['broken', 3], ['suite', 1], ['missing', 127]]);
    assert.deepEqual(results[1].counts, { passed: 1, failed: 1, skipped: 0 });
    assert.equal(formatSummary(results).trimEnd().split('\n').at(-1), '1 passed, 3 failed');
    assert.match(out, /── suite: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the registered steps include the typecheck, lint, unit and integration runs, with unique names', () => {
  const names = TEST_STEPS.map((s) => s.name);
  for (const n of ['install-deps', 'typecheck', 'lint', 'unit', 'integration']) assert.ok(names.includes(n), n);
  assert.equal(new Set(names).size, names.length);
});
