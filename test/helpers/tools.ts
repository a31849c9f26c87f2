/**
 * Small process and path helpers shared by integration suites and the bench runners.
 * Nothing here knows about Berth's API: only commands, ports, paths and URLs.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, found from this file's place (test/helpers/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The repository's Node 24; the system node is older and cannot run .ts files. */
export const nodeBin = join(repoRoot, 'node_modules', '.bin', 'node');

/** Scratch space that git ignores. */
export const buildDir = join(repoRoot, '.build');

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** When false, a non-zero exit resolves instead of rejecting. Default true. */
  check?: boolean;
  maxBuffer?: number;
}

export class CommandError extends Error {
  readonly result: RunResult;
  constructor(message: string, result: RunResult) {
    super(message);
    this.name = 'CommandError';
    this.result = result;
  }
}

/** Runs a command to completion with a timeout and captures both streams. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeout = opts.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    execFile(
      cmd,
      args,
      { timeout, killSignal: 'SIGKILL', env: opts.env, cwd: opts.cwd, maxBuffer: opts.maxBuffer ?? 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const result = { stdout: String(stdout), stderr: String(stderr), code };
        if (err && (err as { killed?: boolean }).killed) {
          reject(new CommandError(`${cmd} timed out after ${timeout} ms\n${tail(result.stderr)}`, result));
        } else if (err && opts.check !== false) {
          reject(new CommandError(`${cmd} ${args.join(' ')} exited ${code}\n${tail(result.stderr || result.stdout)}`, result));
        } else {
          resolvePromise(result);
        }
      },
    );
  });
}

/**
 * Runs a command, sending its stdout and stderr line by line to `onLine` as they come
 * (and into the returned text). For long tools whose output must be kept in order.
 */
export function runStreaming(
  cmd: string,
  args: readonly string[],
  onLine: (line: string) => void,
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const feed = (chunk: string): void => {
      partial += chunk;
      let nl = partial.indexOf('\n');
      while (nl >= 0) {
        onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
        nl = partial.indexOf('\n');
      }
    };
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; feed(c); });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; feed(c); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 600_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (partial) onLine(partial);
      const result = { stdout, stderr, code: code ?? -1 };
      if (timedOut) reject(new CommandError(`${cmd} timed out`, result));
      else resolvePromise(result);
    });
  });
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** fio built with the libiscsi engine by scripts/build-fio.sh, or undefined. */
export function fioPath(): string | undefined {
  const built = join(buildDir, 'fio', 'fio');
  return existsSync(built) ? built : undefined;
}

export interface IscsiAddress {
  host: string;
  port: number;
  iqn: string;
  lun: number;
}

/** libiscsi's URL form: iscsi://host:port/IQN/LUN. */
export function iscsiUrl(a: IscsiAddress): string {
  return `iscsi://${a.host}:${a.port}/${a.iqn}/${a.lun}`;
}

/** Splits an iscsi:// URL back into its parts; throws on anything else. */
export function parseIscsiUrl(url: string): IscsiAddress {
  const m = /^iscsi:\/\/(?:[^@/]*@)?([^:/]+|\[[^\]]+\]):(\d+)\/([^/]+)\/(\d+)$/.exec(url);
  if (!m) throw new Error(`not an iscsi://host:port/IQN/LUN URL: ${url}`);
  return { host: m[1], port: Number(m[2]), iqn: m[3], lun: Number(m[4]) };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolvePromise(addr.port);
        else reject(new Error('no port from listen(0)'));
      });
    });
  });
}

/** Resolves after `ms`; for polling loops that have something real to wait for. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value or the deadline passes. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** True while a process with this PID exists (zombies included). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
