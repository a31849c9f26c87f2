/**
 * The application rows of `berth bench`: PostgreSQL's pgbench (TPC-B-like and
 * select-only) on a filesystem on the Berth volume and on the local disk, each side in
 * its own throw-away cluster (initdb, Unix socket only, removed afterwards). The Berth
 * side needs the volume mounted (a kernel initiator, or the user-space attach of
 * docs/csi.md); the bench does not mount anything itself.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../util/errors.ts';

export interface PgbenchCell { tps: number }
export type PgCell = PgbenchCell | { error: string };
export interface PgbenchRow { id: string; label: string; berth: PgCell; local: PgCell; ratio?: number }

export const PGBENCH_MODES = [
  { id: 'pgbench-tpcb', label: 'pgbench TPC-B-like', args: [] as string[] },
  { id: 'pgbench-select', label: 'pgbench select-only', args: ['-S'] },
] as const;

/** `tps = 1234.5 (without initial connection time)` → 1234.5 (pure). */
export function parseTps(stdout: string): number {
  const m = /^tps = ([\d.]+)/m.exec(stdout);
  if (!m) throw new Error(`pgbench printed no tps: ${stdout.slice(-300)}`);
  return Number(m[1]);
}

export function pgbenchRow(mode: (typeof PGBENCH_MODES)[number], berth: PgCell, local: PgCell): PgbenchRow {
  const row: PgbenchRow = { id: mode.id, label: mode.label, berth, local };
  if ('tps' in berth && 'tps' in local && local.tps > 0) row.ratio = berth.tps / local.tps;
  return row;
}

/** The newest PostgreSQL's bin dir (Debian keeps them under /usr/lib/postgresql/N/bin). */
export function pgBinDir(flag: string | undefined): string {
  if (flag) return flag;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'pgbench'))) return join(root, v, 'bin');
  throw new BerthError('PGBENCH_MISSING', 'no PostgreSQL (initdb, pg_ctl, pgbench) under /usr/lib/postgresql: install postgresql or give --pg-bin DIR');
}

function exec(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  // PostgreSQL refuses to run as root: run its programs as the postgres user then.
  const asRoot = userInfo().uid === 0;
  const [c, a] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, [...args]];
  return new Promise((res, rej) => {
    execFile(c, a, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${cmd.split('/').at(-1)}: ${(stderr || err.message).trim().split('\n').slice(-2).join(' ')}`));
      else res(stdout);
    });
  });
}

async function owned(dir: string): Promise<void> {
  if (userInfo().uid !== 0) return;
  const id = (await new Promise<string>((res, rej) => { execFile('id', ['-u', 'postgres'], (e, o) => (e ? rej(e) : res(o))); })).trim();
  const gid = (await new Promise<string>((res, rej) => { execFile('id', ['-g', 'postgres'], (e, o) => (e ? rej(e) : res(o))); })).trim();
  await chown(dir, Number(id), Number(gid));
}

export interface PgbenchSide { dir: string; bin: string; scale: number; clients: number; runtimeS: number; log: (line: string) => void }

/** One side: a cluster in DIR, pgbench -i, then each mode for runtimeS; the cluster is removed. */
export async function pgbenchSide(s: PgbenchSide): Promise<PgCell[]> {
  const base = join(s.dir, `berth-pgbench-${process.pid}`);
  const data = join(base, 'data');
  // Unix socket paths are short (108 bytes): the socket lives in a temp dir of its own.
  const sock = await mkdtemp(join(tmpdir(), 'berth-pg-'));
  const bin = (p: string): string => join(s.bin, p);
  const budget = (s.runtimeS + 300) * 1000;
  let started = false;
  try {
    await mkdir(base, { recursive: true });
    await owned(base);
    await owned(sock);
    await exec(bin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-instructions'], 300_000);
    await exec(bin('pg_ctl'), ['-D', data, '-l', join(base, 'log'), '-w', '-t', '120', '-o', `-c listen_addresses='' -k ${sock}`, 'start'], 180_000);
    started = true;
    const conn = ['-h', sock, '-U', 'postgres'];
    s.log(`pgbench: initializing scale ${s.scale} in ${s.dir}`);
    await exec(bin('pgbench'), [...conn, '-i', '-q', '-s', String(s.scale), 'postgres'], budget);
    const cells: PgCell[] = [];
    for (const m of PGBENCH_MODES) {
      s.log(`${m.label} in ${s.dir}`);
      try {
        const out = await exec(bin('pgbench'), [...conn, ...m.args, '-c', String(s.clients), '-j', String(s.clients), '-T', String(s.runtimeS), 'postgres'], budget);
        cells.push({ tps: parseTps(out) });
      } catch (err) {
        cells.push({ error: (err as Error).message });
      }
    }
    return cells;
  } catch (err) {
    const msg = (err as Error).message;
    const hint = /Permission denied/.test(msg) && userInfo().uid === 0 ? ` (PostgreSQL runs as the postgres user: it must be able to enter ${s.dir})` : '';
    const e = { error: msg + hint };
    return PGBENCH_MODES.map(() => e);
  } finally {
    if (started) await exec(bin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], 120_000).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
    await rm(sock, { recursive: true, force: true });
  }
}

export async function runPgbench(o: { berthDir: string; localDir: string; binFlag?: string; scale: number; clients: number; runtimeS: number; log: (line: string) => void }): Promise<PgbenchRow[]> {
  const bin = pgBinDir(o.binFlag);
  const common = { bin, scale: o.scale, clients: o.clients, runtimeS: o.runtimeS, log: o.log };
  const berth = await pgbenchSide({ ...common, dir: o.berthDir });
  const local = await pgbenchSide({ ...common, dir: o.localDir });
  return PGBENCH_MODES.map((m, i) => pgbenchRow(m, berth[i], local[i]));
}
