/**
 * Runs test steps one after another, each even when an earlier one failed, passing
 * their output through and keeping it to read the test counts (scripts/test_summary.ts).
 */
import { spawn } from 'node:child_process';
import type { TestStep } from './test_steps.ts';
import { parseRunnerCounts, type StepResult } from './test_summary.ts';

export interface Sinks {
  out: (chunk: string | Buffer) => void;
  err: (chunk: string | Buffer) => void;
}

const processSinks: Sinks = {
  out: (c) => { process.stdout.write(c); },
  err: (c) => { process.stderr.write(c); },
};

function runStep(step: TestStep, cwd: string, sinks: Sinks): Promise<StepResult> {
  const started = performance.now();
  sinks.out(`\n── ${step.name}: ${step.command.join(' ')}\n`);
  return new Promise((done) => {
    let output = '';
    // A step is a run of its own, even when this driver itself runs under `node --test`.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(step.command[0], step.command.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (sink: (c: Buffer) => void) => (chunk: Buffer): void => {
      sink(chunk);
      if (step.tests) output += chunk.toString('utf8');
    };
    child.stdout.on('data', keep(sinks.out));
    child.stderr.on('data', keep(sinks.err));
    let finished = false;
    const finish = (exitCode: number): void => {
      if (finished) return;
      finished = true;
      done({ name: step.name, exitCode, durationMs: performance.now() - started, counts: step.tests ? parseRunnerCounts(output) : undefined });
    };
    child.once('error', (err) => {
      sinks.err(`${step.name}: cannot run ${step.command[0]}: ${err.message}\n`);
      finish(127);
    });
    child.once('close', (code, signal) => finish(code ?? (signal !== null ? 128 : 1)));
  });
}

export async function runSteps(steps: readonly TestStep[], cwd: string, sinks: Sinks = processSinks): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const step of steps) results.push(await runStep(step, cwd, sinks));
  return results;
}
