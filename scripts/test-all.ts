/**
 * `npm test`: runs every step of scripts/test_steps.ts, each even when an earlier one
 * failed, then prints one summary of all of them (last line `N passed, N failed`) and
 * exits non-zero if any failed. `npm test -- unit lint` runs only the named steps.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_STEPS } from './test_steps.ts';
import { runSteps } from './test_runner.ts';
import { formatSummary, stepPassed } from './test_summary.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !TEST_STEPS.some((s) => s.name === n));
if (unknown.length > 0) {
  process.stderr.write(`test-all: unknown step ${unknown.join(', ')}; steps: ${TEST_STEPS.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
const results = await runSteps(wanted.length === 0 ? TEST_STEPS : TEST_STEPS.filter((s) => wanted.includes(s.name)), root);
process.stdout.write(formatSummary(results));
process.exitCode = results.every(stepPassed) ? 0 : 1;
