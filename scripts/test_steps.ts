/**
 * The steps `npm test` runs, in order. Every step runs even when an earlier one failed,
 * so one broken suite never hides how the others did (scripts/test-all.ts).
 *
 * To add a suite: add an npm script for it in package.json and one line here. Set
 * `tests: true` when the step is a `node --test` run, so its pass/fail counts are read
 * from the runner's summary; other steps count as one check each.
 */
export interface TestStep {
  /** Short name shown in the summary and accepted by `npm test -- NAME…`. */
  readonly name: string;
  /** The command and its arguments, run from the repository root with node_modules/.bin first on PATH. */
  readonly command: readonly string[];
  /** A `node --test` run whose summary gives test counts. */
  readonly tests: boolean;
}

const npmRun = (script: string): string[] => ['npm', 'run', '--silent', script];

export const TEST_STEPS: readonly TestStep[] = [
  { name: 'install-deps', command: ['bash', 'scripts/install-deps.sh'], tests: false },
  { name: 'typecheck', command: npmRun('typecheck'), tests: false },
  { name: 'lint', command: npmRun('lint'), tests: false },
  { name: 'unit', command: npmRun('test:unit'), tests: true },
  { name: 'integration', command: npmRun('test:integration'), tests: true },
];
