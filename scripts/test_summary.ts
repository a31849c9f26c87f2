/**
 * Pure parts of the test driver: reading a `node --test` run's counts from its output,
 * and the one summary printed after every step ran.
 */

export interface StepCounts {
  passed: number;
  failed: number;
  skipped: number;
}

export interface StepResult {
  readonly name: string;
  readonly exitCode: number;
  readonly durationMs: number;
  /** Undefined when the step is not a test run, or its summary was never printed (a crash). */
  readonly counts: StepCounts | undefined;
}

/**
 * The counts from the last summary in a test runner's output: the spec reporter's
 * `ℹ pass N` lines or the TAP reporter's `# pass N`. Cancelled tests (a timeout, a file
 * that crashed) count as failed: they did not pass.
 */
export function parseRunnerCounts(output: string): StepCounts | undefined {
  const last = new Map<string, number>();
  for (const m of output.matchAll(/^\s*(?:ℹ|#) (pass|fail|cancelled|skipped|todo) (\d+)\s*$/gmu)) {
    last.set(m[1], Number(m[2]));
  }
  if (!last.has('pass') || !last.has('fail')) return undefined;
  return {
    passed: last.get('pass') ?? 0,
    failed: (last.get('fail') ?? 0) + (last.get('cancelled') ?? 0),
    skipped: (last.get('skipped') ?? 0) + (last.get('todo') ?? 0),
  };
}

/** A step passed when it exited 0 and (for a test run) reported no failures. */
export function stepPassed(r: StepResult): boolean {
  return r.exitCode === 0 && (r.counts === undefined || r.counts.failed === 0);
}

/**
 * Test counts summed over all steps. A step without test counts (typecheck, lint, a
 * runner that crashed before its summary) counts as one check, passed or failed, so a
 * failing step can never add up to "0 failed".
 */
export function totals(results: readonly StepResult[]): StepCounts {
  const t: StepCounts = { passed: 0, failed: 0, skipped: 0 };
  for (const r of results) {
    if (r.counts === undefined) {
      if (stepPassed(r)) t.passed++;
      else t.failed++;
      continue;
    }
    t.passed += r.counts.passed;
    t.skipped += r.counts.skipped;
    // A non-zero exit with no failed test in the summary is still a failure.
    t.failed += r.counts.failed > 0 || r.exitCode === 0 ? r.counts.failed : 1;
  }
  return t;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The summary block; its last line is `N passed, N failed` for CI tools to read. */
export function formatSummary(results: readonly StepResult[]): string {
  const width = Math.max(4, ...results.map((r) => r.name.length));
  const lines = ['', '── test summary ──'];
  for (const r of results) {
    const verdict = stepPassed(r) ? 'ok    ' : 'FAILED';
    const detail = r.counts !== undefined
      ? `${r.counts.passed} passed, ${r.counts.failed} failed${r.counts.skipped > 0 ? `, ${r.counts.skipped} skipped` : ''}`
      : r.exitCode === 0 ? 'ok' : `exit code ${r.exitCode}`;
    lines.push(`${r.name.padEnd(width)}  ${verdict}  ${seconds(r.durationMs).padStart(8)}  ${detail}`);
  }
  const t = totals(results);
  const failedSteps = results.filter((r) => !stepPassed(r)).map((r) => r.name);
  lines.push(failedSteps.length === 0 ? 'every step passed' : `failed steps: ${failedSteps.join(', ')}`);
  lines.push(`${t.passed} passed, ${t.failed} failed`);
  return lines.join('\n') + '\n';
}
