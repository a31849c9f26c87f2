/**
 * A throw-away PostgreSQL cluster on a mounted directory, run as the postgres user with
 * a Unix socket only: initdb, start, `pgbench -i`, then single pgbench runs on demand.
 * Debian's binaries under /usr/lib/postgresql/N/bin (src/cli/bench_pgbench.ts finds them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../test/helpers/tools.ts';
import { CpuMeter } from './proc_stat.ts';
import { parsePgbench, type PgRun } from './pgbench_table.ts';

/** PostgreSQL refuses to run as root. */
function asPostgres(cmd: string, args: readonly string[], timeoutMs: number) {
  return run('runuser', ['-u', 'postgres', '--', cmd, ...args], { timeoutMs });
}

export class PgCluster {
  readonly #bin: string;
  readonly #data: string;
  readonly #sock: string;
  #started = false;

  private constructor(bin: string, data: string, sock: string) {
    this.#bin = bin;
    this.#data = data;
    this.#sock = sock;
  }

  /** initdb on `dir` (a mount owned by postgres), start, and load pgbench's tables at `scale`. */
  static async create(bin: string, dir: string, scale: number): Promise<PgCluster> {
    // Unix socket paths are short (108 bytes): the socket lives in a temp dir of its own.
    const sock = await mkdtemp(join(tmpdir(), 'berth-pg-'));
    await run('chown', ['postgres:postgres', sock]);
    const c = new PgCluster(bin, join(dir, 'data'), sock);
    try {
      await asPostgres(join(bin, 'initdb'), ['-D', c.#data, '-A', 'trust', '-U', 'postgres', '--no-instructions'], 300_000);
      await asPostgres(join(bin, 'pg_ctl'), ['-D', c.#data, '-l', join(dir, 'log'), '-w', '-t', '120', '-o', `-c listen_addresses='' -k ${sock}`, 'start'], 180_000);
      c.#started = true;
      await asPostgres(join(bin, 'pgbench'), [...c.#conn(), '-i', '-q', '-s', String(scale), 'postgres'], 3_600_000);
      await c.sql('VACUUM ANALYZE');
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  #conn(): string[] {
    return ['-h', this.#sock, '-U', 'postgres'];
  }

  async sql(statement: string): Promise<void> {
    await asPostgres(join(this.#bin, 'psql'), [...this.#conn(), '-q', '-c', statement, 'postgres'], 600_000);
  }

  /**
   * One pgbench run of `runtimeS`. A CHECKPOINT first, so every run starts with the same
   * amount of dirty data rather than whatever the previous run left. `enginePids`' CPU
   * over the run is divided by the transactions.
   */
  async bench(args: readonly string[], runtimeS: number, enginePids: readonly number[]): Promise<PgRun> {
    await this.sql('CHECKPOINT');
    const meters = enginePids.map((pid) => new CpuMeter(pid));
    for (const m of meters) m.start();
    const out = await asPostgres(join(this.#bin, 'pgbench'), [...this.#conn(), ...args, '-T', String(runtimeS), 'postgres'], (runtimeS + 300) * 1000);
    const cpu = meters.reduce((s, m) => s + m.stop().cpuSeconds, 0);
    const r = parsePgbench(out.stdout);
    const txns = r.tps * runtimeS;
    return meters.length && txns > 0 ? { ...r, engineCpuUsPerTxn: (cpu / txns) * 1e6 } : r;
  }

  async stop(): Promise<void> {
    if (this.#started) await asPostgres(join(this.#bin, 'pg_ctl'), ['-D', this.#data, '-m', 'fast', '-w', 'stop'], 120_000).catch(() => undefined);
    this.#started = false;
    await rm(this.#sock, { recursive: true, force: true });
  }
}
