/**
 * The rounds of the pgbench section: every workload on every contender, interleaved,
 * and the options both tables share.
 */
import type { PgCluster } from './pgbench_pg.ts';
import { PG_MODES, type PgModeId, type PgResults } from './pgbench_table.ts';

export interface PgbenchOptions {
  /** Where the pool file, the raw file and the loop file live (a disk directory or /dev/shm). */
  dir: string;
  scale: number;
  runtimeS: number;
  rounds: number;
  /** Rounds of the fio commit row on the attached devices (0: skip it; default `rounds`). */
  commitRounds?: number;
  /** A checkout whose engine runs as an extra contender, "Berth (compared checkout)" (before/after in one run). */
  compareEngine?: string;
  /** Only the commit row: no PostgreSQL runs. */
  commitOnly?: boolean;
  /** Also the 2-replica row (network namespaces). */
  replicated: boolean;
  log: (line: string) => void;
}

export interface PgContender {
  name: string;
  pg: PgCluster;
  /** Engine processes whose CPU is counted per transaction. */
  enginePids: number[];
}

/** Room for pgbench's tables at `scale` (~16 MB per unit), WAL, and ext4. */
export function volumeBytesFor(scale: number): number {
  const GiB = 2 ** 30;
  return Math.ceil((scale * 16 * 2 ** 20 * 2 + 2 * GiB) / GiB) * GiB;
}

/** Every mode for every contender, `rounds` times; A-B-C then C-B-A order. */
export async function interleave(cs: readonly PgContender[], modes: readonly (typeof PG_MODES)[number][], rounds: number, runtimeS: number, log: (l: string) => void): Promise<PgResults> {
  const results: PgResults = {};
  for (const c of cs) results[c.name] = {};
  for (let round = 0; round < rounds; round++) {
    for (const m of modes) {
      const order = round % 2 === 0 ? cs : [...cs].reverse();
      for (const c of order) {
        const list = (results[c.name][m.id as PgModeId] ??= []);
        try {
          const r = await c.pg.bench(m.args, runtimeS, m.tpcb ? c.enginePids : []);
          list[round] = r;
          log(`pgbench round ${round + 1} ${m.label} ${c.name}: ${r.tps.toFixed(0)} TPS, ${r.latencyMs.toFixed(2)} ms` +
            (r.engineCpuUsPerTxn !== undefined ? `, engine ${r.engineCpuUsPerTxn.toFixed(0)} µs CPU/txn` : ''));
        } catch (err) {
          list[round] = undefined;
          log(`pgbench round ${round + 1} ${m.label} ${c.name}: FAILED ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
  }
  return results;
}

