/**
 * Starts the real engine process (`node src/engine/main.ts`) for integration suites and
 * benchmarks, waits for its "engine ready" log line, and tears it down by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBin, repoRoot, sleep } from './tools.ts';
import { setApiToken } from './api.ts';

const ENGINE_MAIN = join(repoRoot, 'src', 'engine', 'main.ts');
const READY_MSG = 'engine ready';
const DIAG_BYTES = 32 * 1024;
const READY_POLL_MS = 25;

export interface EngineOptions {
  /** Kept after stop() when given; otherwise a temp dir under os.tmpdir() is made and removed. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra flags after the standard ones (a repeated flag overrides the default). */
  args?: string[];
  readyTimeoutMs?: number;
  logLevel?: string;
  /** Ports to listen on; 0 (default) lets the kernel choose. */
  apiPort?: number;
  iscsiPort?: number;
  /**
   * A bearer token for the API: written to a 0600 file that the engine gets with
   * --auth-token-file, and registered with test/helpers/api.ts for this API's URL.
   * Absent (the default): the loopback API runs without authentication, as before.
   */
  authToken?: string;
  /**
   * Directories pool files may be created in or imported from (`--pool-root`). Default:
   * the OS temp dir and /dev/shm, where suites and benches keep pool files of their own.
   */
  poolRoots?: string[];
  /** A command the engine runs under, e.g. ['unshare', '--pid', '--fork', '--kill-child=SIGTERM', '--mount-proc']. */
  wrap?: string[];
}

export interface EngineProcess {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:41234 */
  api: string;
  iscsi: { host: string; port: number };
  pid: number;
  dataDir: string;
  /** The token the API demands (EngineOptions.authToken), if any. */
  authToken?: string;
  /** The tails of the engine's stderr and stdout (kept in temp files until stop()). */
  diagnostics(): string;
  /** SIGTERM, wait for the exit (SIGKILL after a grace period); returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: a crash. The data dir stays until stop(). */
  kill(): Promise<void>;
  /** Start again on the same data dir and the same ports; `hard` kills instead of stopping. */
  restart(opts?: { hard?: boolean }): Promise<void>;
}

export class EngineStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineStartError';
  }
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  api: string;
  iscsi: { host: string; port: number };
}

export async function startEngine(opts: EngineOptions = {}): Promise<EngineProcess> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-engine-'));
  // The engine writes into files, not pipes: a test that blocks its own event loop
  // (execFileSync of an initiator tool) would stop draining a pipe, and the engine's
  // synchronous logging would then block on the full pipe and hang the I/O under test.
  const logDir = mkdtempSync(join(tmpdir(), 'berth-engine-log-'));
  const stdoutPath = join(logDir, 'stdout.log');
  const stderrPath = join(logDir, 'stderr.log');
  const diagnostics = (): string =>
    `--- engine stderr ---\n${tailOf(stderrPath)}\n--- engine stdout (tail) ---\n${tailOf(stdoutPath)}`;
  let current: Running | undefined;
  let removed = false;
  const removeOwned = (): void => {
    rmSync(logDir, { recursive: true, force: true });
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    removed = true;
  };

  const cleanupOnExit = (): void => {
    current?.child.kill('SIGKILL');
    if (!removed) removeOwned();
  };
  process.on('exit', cleanupOnExit);

  const tokenPath = join(logDir, 'auth-token');
  const launch = async (apiPort: number, iscsiPort: number): Promise<Running> => {
    // Restarts remove the log dir, so the token file is written before every launch.
    if (opts.authToken !== undefined && !removed) writeFileSync(tokenPath, `${opts.authToken}\n`, { mode: 0o600 });
    const args = [
      ENGINE_MAIN,
      '--data-dir', dataDir,
      '--api-listen', `127.0.0.1:${apiPort}`,
      '--iscsi-listen', `127.0.0.1:${iscsiPort}`,
      '--log-level', opts.logLevel ?? 'info',
      ...(opts.poolRoots ?? [tmpdir(), '/dev/shm']).flatMap((r) => ['--pool-root', r]),
      ...(opts.authToken !== undefined ? ['--auth-token-file', tokenPath] : []),
      ...(opts.args ?? []),
    ];
    // A stopped engine may be restarted (same data dir, same ports): its log dir comes back.
    if (removed) {
      mkdirSync(logDir, { recursive: true });
      removed = false;
      process.on('exit', cleanupOnExit);
      if (opts.authToken !== undefined) writeFileSync(tokenPath, `${opts.authToken}\n`, { mode: 0o600 });
    }
    const readFrom = existsSync(stdoutPath) ? statSync(stdoutPath).size : 0;
    const outFd = openSync(stdoutPath, 'a');
    const errFd = openSync(stderrPath, 'a');
    const wrap = opts.wrap ?? [];
    const child = spawn(wrap.length > 0 ? wrap[0] : nodeBin, wrap.length > 0 ? [...wrap.slice(1), nodeBin, ...args] : args, {
      cwd: repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', outFd, errFd],
    });
    closeSync(outFd);
    closeSync(errFd);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const timeoutMs = opts.readyTimeoutMs ?? 20_000;
    const ready = new Promise<{ api: string; iscsi: string }>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, found?: { api: string; iscsi: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        if (err) reject(err);
        else resolve(found!);
      };
      const timer = setTimeout(() => {
        finish(new EngineStartError(`engine did not log "${READY_MSG}" within ${timeoutMs} ms\n${diagnostics()}`));
      }, timeoutMs);
      // The ready line is looked for in what this start wrote (restarts append).
      const poll = setInterval(() => {
        const found = findReady(stdoutPath, readFrom);
        if (found) finish(undefined, found);
      }, READY_POLL_MS);
      child.once('exit', (code, signal) => {
        const found = findReady(stdoutPath, readFrom);
        finish(found ? undefined : new EngineStartError(`engine exited (${code ?? signal}) before it was ready\n${diagnostics()}`), found);
      });
      child.once('error', (err) => finish(new EngineStartError(`cannot spawn ${nodeBin}: ${err.message}`)));
    });
    try {
      const r = await ready;
      return { child, exited, api: r.api, iscsi: splitHostPort(r.iscsi) };
    } catch (err) {
      child.kill('SIGKILL');
      await exited;
      throw err;
    }
  };

  const terminate = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null> => {
    const run = current;
    if (!run) return null;
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill(signal);
      if (signal === 'SIGTERM') {
        await Promise.race([run.exited, sleep(10_000)]);
        if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      }
      await run.exited;
    }
    return run.child.exitCode;
  };

  try {
    current = await launch(opts.apiPort ?? 0, opts.iscsiPort ?? 0);
  } catch (err) {
    process.off('exit', cleanupOnExit);
    removeOwned();
    throw err;
  }

  if (opts.authToken !== undefined) setApiToken(current.api, opts.authToken);
  const engine: EngineProcess = {
    api: current.api,
    iscsi: current.iscsi,
    pid: current.child.pid ?? -1,
    dataDir,
    ...(opts.authToken !== undefined ? { authToken: opts.authToken } : {}),
    diagnostics,
    async stop() {
      const code = await terminate('SIGTERM');
      current = undefined;
      process.off('exit', cleanupOnExit);
      if (!removed) removeOwned();
      return code;
    },
    async kill() {
      await terminate('SIGKILL');
    },
    async restart(r = {}) {
      const apiPort = Number(new URL(engine.api).port);
      const iscsiPort = engine.iscsi.port;
      await terminate(r.hard ? 'SIGKILL' : 'SIGTERM');
      current = await launch(apiPort, iscsiPort);
      engine.api = current.api;
      if (opts.authToken !== undefined) setApiToken(engine.api, opts.authToken);
      engine.iscsi = current.iscsi;
      engine.pid = current.child.pid ?? -1;
    },
  };
  return engine;
}

function tailOf(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-DIAG_BYTES);
  } catch {
    return '';
  }
}

function findReady(path: string, from: number): { api: string; iscsi: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path).subarray(from).toString('utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const found = readyLine(line);
    if (found) return found;
  }
  return undefined;
}

/** Picks the ready line out of pino's JSON output; other lines are ignored. */
export function readyLine(line: string): { api: string; iscsi: string } | undefined {
  if (!line.includes(READY_MSG)) return undefined;
  try {
    const rec = JSON.parse(line) as { msg?: unknown; api?: unknown; iscsi?: unknown };
    if (rec.msg === READY_MSG && typeof rec.api === 'string' && typeof rec.iscsi === 'string') {
      return { api: rec.api, iscsi: rec.iscsi };
    }
  } catch {
    // Not JSON: some other output that happens to contain the words.
  }
  return undefined;
}

function splitHostPort(text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  const host = text.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new EngineStartError(`engine reported iscsi '${text}', not HOST:PORT`);
  return { host, port };
}
