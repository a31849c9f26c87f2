/**
 * `node bench/commit_latency_main.ts [--dir D] [--rounds N] [--runtime S] [--jobs N] [--compare-engine CHECKOUT]`:
 * the commit-latency rows alone (bench/commit_latency.ts), printed as markdown.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { buildDir, fioPath, repoRoot, run } from '../test/helpers/tools.ts';
import { runCommitLatency } from './commit_latency.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', multiple: true },
      rounds: { type: 'string', default: '5' },
      runtime: { type: 'string', default: '10' },
      jobs: { type: 'string', default: '1' },
      'size-mib': { type: 'string', default: '256' },
      'compare-engine': { type: 'string' },
    },
  });
  await run('bash', [join(repoRoot, 'scripts', 'build-fio.sh')], { timeoutMs: 10 * 60_000 });
  const fio = fioPath();
  if (!fio) throw new Error('scripts/build-fio.sh left no .build/fio/fio');
  const log = (s: string): void => console.log(`[commit ${new Date().toISOString().slice(11, 19)}] ${s}`);
  for (const dir of values.dir ?? [join(buildDir, 'bench'), '/dev/shm']) {
    const r = await runCommitLatency({
      fio, dir, log,
      rounds: Number(values.rounds), jobs: Number(values.jobs), runtimeS: Number(values.runtime), sizeBytes: Number(values['size-mib']) * 2 ** 20,
      ...(values['compare-engine'] ? { compareEngine: values['compare-engine'] } : {}),
    });
    console.log(`\n${dir}\n\n${r.markdown}\n`);
  }
}

main().catch((err: unknown) => {
  console.error(`commit latency: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
