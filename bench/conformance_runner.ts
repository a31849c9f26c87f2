/**
 * Runs libiscsi's compliance suite (iscsi-test-cu) against one LUN through two URLs
 * (which enables its multipath tests) and turns the log into per-test outcomes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildDir, run, runStreaming } from '../test/helpers/tools.ts';
import { parseConformanceLog, parseTestList, type ConformanceReport } from './conformance_parse.ts';
import { startTarget, type RunningTarget, type TargetKind } from './targets.ts';

export interface ConformanceOptions {
  /** berth or tgt: start a fresh one; or an existing target's URL. */
  target: TargetKind | { url: string };
  thin?: boolean;
  blockSize?: 512 | 4096;
  sizeBytes?: number;
  /** Directory for the backing files; /dev/shm by default. */
  baseDir?: string;
  logPath?: string;
  timeoutMs?: number;
  /** Each output line as it arrives (progress display). */
  onLine?: (line: string) => void;
  /** ALL (default), a suite (`Sanitize`) or one test (`Sanitize.Reset`), as named in reports. */
  tests?: string;
  /** Two URLs to the LUN (default) enable the multipath tests; one runs them as skips. */
  urls?: 1 | 2;
}

export interface ConformanceRun extends ConformanceReport {
  url: string;
  logPath: string;
  /** The target's own diagnostics when the suite had failures (engine stderr, tgtd log). */
  targetLog?: string;
}

export const DEFAULT_LOG = join(buildDir, 'conformance.log');
const GIB = 1024 ** 3;
/** Two initiator names: the suite logs in as both for its reservation tests. */
const INITIATOR_1 = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test';
const INITIATOR_2 = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2';

export async function runConformance(o: ConformanceOptions): Promise<ConformanceRun> {
  const logPath = o.logPath ?? DEFAULT_LOG;
  let target: RunningTarget | undefined;
  let url: string;
  if (typeof o.target === 'object') {
    url = o.target.url;
  } else {
    target = await startTarget(o.target, {
      baseDir: o.baseDir ?? defaultBaseDir(),
      sizeBytes: o.sizeBytes ?? GIB,
      blockSize: o.blockSize ?? 512,
      thin: o.thin ?? true,
    });
    url = target.url;
  }
  try {
    const tests = o.tests ?? 'ALL';
    const listed = parseTestList((await run('iscsi-test-cu', ['--list'], { timeoutMs: 10_000 })).stdout);
    const expected = tests === 'ALL' ? listed : listed.filter((n) => n === tests || n.startsWith(`${tests}.`));
    const lines: string[] = [];
    // stdbuf: without line buffering libiscsi's [SKIPPED] lines land under the wrong test.
    const args = [
      '-oL', 'iscsi-test-cu', `--test=${tests === 'ALL' ? 'ALL' : `ALL.${tests}`}`, '--dataloss', '--allow-sanitize',
      `--initiator-name=${INITIATOR_1}`, `--initiator-name-2=${INITIATOR_2}`, url, ...(o.urls === 1 ? [] : [url]),
    ];
    let timedOut = false;
    await runStreaming('stdbuf', args, (line) => {
      lines.push(line);
      o.onLine?.(line);
    }, { timeoutMs: o.timeoutMs ?? 15 * 60_000 }).catch((err: Error) => {
      timedOut = true;
      lines.push(`conformance runner: ${err.message}`);
    });
    const text = lines.join('\n') + '\n';
    mkdirSync(dirname(logPath), { recursive: true });
    writeFileSync(logPath, text);
    const report = parseConformanceLog(text, expected);
    const targetLog = report.failed > 0 || timedOut ? target?.diagnostics() : undefined;
    return { ...report, url, logPath, targetLog };
  } finally {
    await target?.stop();
  }
}

function defaultBaseDir(): string {
  try {
    mkdirSync('/dev/shm', { recursive: true });
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}
