/**
 * `npm run conformance [-- options]`: libiscsi's compliance suite against a fresh Berth
 * engine (default), a fresh tgt (--target tgt) or an existing target (--url URL).
 * Prints failing and skipped tests; the last line is always
 * `iscsi-test-cu: N passed, N failed, N skipped`. Exits non-zero on failures only
 * with --strict (and always on a setup error).
 */
import { parseArgs } from 'node:util';
import { summaryLine } from './conformance_parse.ts';
import { DEFAULT_LOG, runConformance, type ConformanceOptions } from './conformance_runner.ts';
import { TargetKind } from './targets.ts';

const USAGE = `usage: node bench/conformance.ts [--target berth|tgt | --url iscsi://host:port/IQN/LUN]
  [--thick] [--block-size 512|4096] [--size-gib N] [--dir DIR] [--log FILE] [--strict] [--verbose]`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: TargetKind.berth },
      url: { type: 'string' },
      thick: { type: 'boolean', default: false },
      'block-size': { type: 'string', default: '512' },
      'size-gib': { type: 'string', default: '1' },
      dir: { type: 'string' },
      log: { type: 'string', default: DEFAULT_LOG },
      strict: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const blockSize = Number(values['block-size']);
  if (blockSize !== 512 && blockSize !== 4096) throw new UsageError('--block-size must be 512 or 4096');
  const target = values.target;
  if (!values.url && target !== TargetKind.berth && target !== TargetKind.tgt) throw new UsageError('--target must be berth or tgt');
  const sizeGiB = Number(values['size-gib']);
  if (!(sizeGiB > 0)) throw new UsageError('--size-gib must be a positive number');

  const opts: ConformanceOptions = {
    target: values.url ? { url: values.url } : (target as TargetKind),
    thin: !values.thick,
    blockSize,
    sizeBytes: Math.round(sizeGiB * 1024 ** 3),
    baseDir: values.dir,
    logPath: values.log,
    onLine: values.verbose ? (l) => console.log(l) : undefined,
  };
  const what = values.url ?? `${target} (${opts.thin ? 'thin' : 'thick'}, ${blockSize}-byte blocks)`;
  console.log(`conformance: iscsi-test-cu against ${what}`);
  const started = Date.now();
  const r = await runConformance(opts);

  const failed = r.tests.filter((t) => t.outcome === 'failed');
  const skipped = r.tests.filter((t) => t.outcome === 'skipped');
  console.log(`\nfailed (${failed.length}):`);
  for (const t of failed) console.log(`  ${t.name}${t.reason ? `  — ${t.reason}` : ''}`);
  console.log(`\nskipped (${skipped.length}):`);
  for (const t of skipped) console.log(`  ${t.name}${t.reason ? `  — ${t.reason}` : ''}`);
  if (r.cunit && r.cunit.passed !== r.passed + r.skipped) {
    console.log(`\nnote: CUnit counted ${r.cunit.passed} passed, this parser ${r.passed} passed + ${r.skipped} skipped`);
  }
  console.log(`\nurl ${r.url}; log ${r.logPath}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(summaryLine(r));
  return values.strict && r.failed > 0 ? 1 : 0;
}

class UsageError extends Error {}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(err as Error).message}\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(`conformance: ${(err as Error).stack ?? String(err)}`);
      process.exitCode = 1;
    }
  },
);
