/**
 * Starts the real engine process (`node src/engine/main.ts`) for integration suites and
 * benchmarks, waits for its "engine ready" log line, and tears it down by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBin, repoRoot, sleep } from './tools.ts';

const ENGINE_MAIN = join(repoRoot, 'src', 'engine', 'main.ts');
const READY_MSG = 'engine ready';
const DIAG_BYTES = 32 * 1024;

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
}

export interface EngineProcess {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:41234 */
  api: string;
  iscsi: { host: string; port: number };
  pid: number;
  dataDir: string;
  /** Everything the engine wrote to stderr and its last stdout lines: for failure messages. */
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
  let stderr = '';
  let stdoutTail = '';
  const diagnostics = (): string => `--- engine stderr ---\n${stderr}\n--- engine stdout (tail) ---\n${stdoutTail}`;
  let current: Running | undefined;
  let removed = false;

  const cleanupOnExit = (): void => {
    current?.child.kill('SIGKILL');
    if (ownDir && !removed) rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('exit', cleanupOnExit);

  const launch = async (apiPort: number, iscsiPort: number): Promise<Running> => {
    const args = [
      ENGINE_MAIN,
      '--data-dir', dataDir,
      '--api-listen', `127.0.0.1:${apiPort}`,
      '--iscsi-listen', `127.0.0.1:${iscsiPort}`,
      '--log-level', opts.logLevel ?? 'info',
      ...(opts.args ?? []),
    ];
    const child = spawn(nodeBin, args, {
      cwd: repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr = (stderr + c).slice(-DIAG_BYTES);
    });
    const timeoutMs = opts.readyTimeoutMs ?? 20_000;
    const ready = new Promise<{ api: string; iscsi: string }>((resolve, reject) => {
      let partial = '';
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new EngineStartError(`engine did not log "${READY_MSG}" within ${timeoutMs} ms\n${diagnostics()}`));
      }, timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!settled) reject(new EngineStartError(`engine exited (${code ?? signal}) before it was ready\n${diagnostics()}`));
        settled = true;
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        if (!settled) reject(new EngineStartError(`cannot spawn ${nodeBin}: ${err.message}`));
        settled = true;
      });
      // Keep reading stdout for the life of the child: a full pipe would stall it.
      child.stdout!.setEncoding('utf8').on('data', (c: string) => {
        stdoutTail = (stdoutTail + c).slice(-DIAG_BYTES);
        if (settled) return;
        partial += c;
        let nl = partial.indexOf('\n');
        while (nl >= 0 && !settled) {
          const line = partial.slice(0, nl);
          partial = partial.slice(nl + 1);
          nl = partial.indexOf('\n');
          const found = readyLine(line);
          if (found) {
            settled = true;
            clearTimeout(timer);
            resolve(found);
          }
        }
      });
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
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  const engine: EngineProcess = {
    api: current.api,
    iscsi: current.iscsi,
    pid: current.child.pid ?? -1,
    dataDir,
    diagnostics,
    async stop() {
      const code = await terminate('SIGTERM');
      current = undefined;
      process.off('exit', cleanupOnExit);
      if (ownDir && !removed) {
        rmSync(dataDir, { recursive: true, force: true });
        removed = true;
      }
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
      engine.iscsi = current.iscsi;
      engine.pid = current.child.pid ?? -1;
    },
  };
  return engine;
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
