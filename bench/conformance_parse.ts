/**
 * Reads iscsi-test-cu's CUnit output (verbose mode) into one outcome per test.
 *
 * CUnit prints "  Test: NAME ..." when a test starts and "passed" or "FAILED" when it
 * ends, either right after the dots or at the start of a later line. libiscsi marks a
 * test it could not run with "[SKIPPED]" lines but CUnit still calls it "passed", so a
 * passed test that printed [SKIPPED] is a skip. Output after the result word (suite
 * teardown noise such as "...passed    [FAILED] PRIN ...") belongs to no test.
 * Pure: text in, values out.
 */

export const Outcome = { passed: 'passed', failed: 'failed', skipped: 'skipped' } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface TestResult {
  /** Suite.Test, e.g. "CompareAndWrite.Simple" (unique in libiscsi 1.19). */
  name: string;
  outcome: Outcome;
  /**
   * For a failure: CUnit's failed assertions (file:line), which say what really failed,
   * then the first [FAILED] message (which may come from a step the test expected to
   * fail); for a skip: the first [SKIPPED] message; or why the result is missing.
   */
  reason?: string;
}

export interface CunitSummary {
  total: number;
  ran: number;
  passed: number;
  failed: number;
}

export interface ConformanceReport {
  tests: TestResult[];
  passed: number;
  failed: number;
  skipped: number;
  /** CUnit's own "tests" summary row, when the run got that far. */
  cunit?: CunitSummary;
}

const SUITE_LINE = /^Suite: (.+?)\s*$/;
const TEST_LINE = /^\s*Test: (.+?) \.\.\.(.*)$/;
const RESULT_AT_START = /^(passed|FAILED)\b/;
const SUMMARY_TESTS = /^\s*tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/;
/** "    1. test_x.c:38  - CU_ASSERT_EQUAL(_r,0)", listed after FAILED. */
const ASSERTION_LINE = /^\s+\d+\.\s+(\S+:\d+)\s+-\s+(.*)$/;
const MAX_ASSERTIONS = 3;
const SKIPPED_MARK = '[SKIPPED]';
const FAILED_MARK = '[FAILED]';

interface Open {
  name: string;
  result?: 'passed' | 'FAILED';
  skipReason?: string;
  failReason?: string;
  assertions: string[];
}

export function parseConformanceLog(text: string, expected: readonly string[] = []): ConformanceReport {
  const tests: TestResult[] = [];
  let suite = '';
  let open: Open | undefined;
  let cunit: CunitSummary | undefined;
  let inSummary = false;

  const close = (): void => {
    if (!open) return;
    tests.push(finish(open));
    open = undefined;
  };

  for (const line of text.split('\n')) {
    if (inSummary) {
      const s = SUMMARY_TESTS.exec(line);
      if (s) cunit = { total: Number(s[1]), ran: Number(s[2]), passed: Number(s[3]), failed: Number(s[4]) };
      continue;
    }
    const suiteMatch = SUITE_LINE.exec(line);
    if (suiteMatch) {
      close();
      suite = suiteMatch[1];
      continue;
    }
    const testMatch = TEST_LINE.exec(line);
    if (testMatch) {
      close();
      open = { name: suite ? `${suite}.${testMatch[1]}` : testMatch[1], assertions: [] };
      absorb(open, testMatch[2]);
      continue;
    }
    if (line.startsWith('Run Summary:')) {
      close();
      inSummary = true;
      continue;
    }
    if (open) absorb(open, line);
  }
  close();

  // Tests the suite lists but never reported (a crash, a hang cut short) are failures.
  const seen = new Set(tests.map((t) => t.name));
  for (const name of expected) {
    if (!seen.has(name)) tests.push({ name, outcome: Outcome.failed, reason: 'not run (no result in the log)' });
  }

  const count = (o: Outcome): number => tests.filter((t) => t.outcome === o).length;
  return { tests, passed: count(Outcome.passed), failed: count(Outcome.failed), skipped: count(Outcome.skipped), cunit };
}

function absorb(t: Open, text: string): void {
  if (t.result === 'FAILED') {
    const a = ASSERTION_LINE.exec(text);
    if (a && t.assertions.length < MAX_ASSERTIONS) t.assertions.push(`${a[1]} ${a[2]}`);
    return;
  }
  if (t.result) return;
  const r = RESULT_AT_START.exec(text);
  if (r) {
    t.result = r[1] as 'passed' | 'FAILED';
    return;
  }
  const skip = text.indexOf(SKIPPED_MARK);
  if (skip >= 0 && t.skipReason === undefined) t.skipReason = text.slice(skip + SKIPPED_MARK.length).trim();
  const fail = text.indexOf(FAILED_MARK);
  if (fail >= 0 && t.failReason === undefined) t.failReason = text.slice(fail + FAILED_MARK.length).trim();
}

function finish(t: Open): TestResult {
  if (t.result === 'FAILED') {
    const parts = [...t.assertions, ...(t.failReason ? [`first message: ${t.failReason}`] : [])];
    return { name: t.name, outcome: Outcome.failed, reason: parts.length ? parts.join('; ') : undefined };
  }
  if (t.result === 'passed') {
    return t.skipReason !== undefined
      ? { name: t.name, outcome: Outcome.skipped, reason: t.skipReason }
      : { name: t.name, outcome: Outcome.passed };
  }
  return { name: t.name, outcome: Outcome.failed, reason: t.failReason ?? 'no result (output ended inside the test)' };
}

/** `iscsi-test-cu --list` → the Suite.Test names under ALL. */
export function parseTestList(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^ALL\.([^.\s]+)\.([^.\s]+)\s*$/.exec(line);
    if (m) names.push(`${m[1]}.${m[2]}`);
  }
  return names;
}

/** The runner's last line; tests and CI grep for exactly this shape. */
export function summaryLine(r: Pick<ConformanceReport, 'passed' | 'failed' | 'skipped'>): string {
  return `iscsi-test-cu: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`;
}
