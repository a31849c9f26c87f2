/**
 * `node bench/pgbench_main.ts [--dir D] [--scale N] [--runtime S] [--rounds N] [--no-replicated]
 *  [--commit-rounds N] [--commit-only] [--replicated-only] [--compare-engine CHECKOUT]`:
 * the pgbench section alone (bench/pgbench.ts), printed as markdown; `--replicated-only`
 * runs just its 2-replica table (bench/pgbench_replicated.ts).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { buildDir } from '../test/helpers/tools.ts';
import { pgBinDir } from '../src/cli/bench_pgbench.ts';
import { pgbenchSection } from './pgbench.ts';
import { runPgbenchReplicated } from './pgbench_replicated.ts';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    dir: { type: 'string', default: join(buildDir, 'bench') },
    scale: { type: 'string', default: '50' },
    runtime: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '5' },
    replicated: { type: 'boolean', default: true },
    'commit-rounds': { type: 'string' },
    'commit-only': { type: 'boolean', default: false },
    'replicated-only': { type: 'boolean', default: false },
    'compare-engine': { type: 'string' },
  },
});
const log = (s: string): void => console.log(`[pgbench ${new Date().toISOString().slice(11, 19)}] ${s}`);
const o = {
  dir: values.dir!, scale: Number(values.scale), runtimeS: Number(values.runtime), rounds: Number(values.rounds), replicated: values.replicated!, log,
  ...(values['commit-rounds'] !== undefined ? { commitRounds: Number(values['commit-rounds']) } : {}),
  commitOnly: values['commit-only']!,
  ...(values['compare-engine'] !== undefined ? { compareEngine: values['compare-engine'] } : {}),
};
const text = values['replicated-only']
  ? `### 2 replicas (pgbench scale ${o.scale}, ${o.runtimeS} s runs, ${o.rounds} rounds)\n\n${await runPgbenchReplicated(o, pgBinDir(undefined))}`
  : await pgbenchSection(o);
console.log(`\n${text}\n`);
