/**
 * Starts the real control-plane process (`node src/control/main.ts`) for integration
 * suites, waits for its "control plane ready" line, and stops or kills it by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { nodeBin, repoRoot, sleep } from '../helpers/tools.ts';

const MAIN = join(repoRoot, 'src', 'control', 'main.ts');
const READY = 'control plane ready';

export interface ControlPlaneOptions {
  /** `sqlite:PATH` or `etcd:URL,…`. */
  store: string;
  /** Fixed port (restarts reuse it); 0 lets the kernel choose. */
  port?: number;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface ControlPlaneProcess {
  url: string;
  pid: number;
  /** Every line logged so far (JSON), for assertions and failure messages. */
  lines(): string[];
  diagnostics(): string;
  /** Resolves once a log line with this msg appears. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited (by itself or killed). */
  exited: Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startControlPlane(o: ControlPlaneOptions): Promise<ControlPlaneProcess> {
  const child: ChildProcess = spawn(nodeBin, [
    MAIN, '--listen', `127.0.0.1:${o.port ?? 0}`, '--store', o.store, '--log-level', 'info',
    '--reconcile-interval-ms', '500', ...(o.args ?? []),
  ], { cwd: repoRoot, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = (): void => { child.kill('SIGKILL'); };
  process.on('exit', killOnExit);
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters: Array<{ msg: string; resolve: (r: Record<string, unknown>) => void }> = [];
  const exited = new Promise<void>((r) => child.once('exit', () => { process.off('exit', killOnExit); r(); }));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr = (stderr + c).slice(-16_000); });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    partial += c;
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
      lines.push(line);
      let rec: Record<string, unknown> | undefined;
      try { rec = JSON.parse(line) as Record<string, unknown>; } catch { rec = undefined; }
      if (rec === undefined) continue;
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].msg === rec.msg) { waiters[i].resolve(rec); waiters.splice(i, 1); }
      }
    }
  });
  const diagnostics = (): string => `--- control plane stderr ---\n${stderr}\n--- stdout (tail) ---\n${lines.slice(-40).join('\n')}`;
  const waitForLog = (msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> => {
    for (const line of lines) {
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        if (rec.msg === msg) return Promise.resolve(rec);
      } catch { /* not JSON */ }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" within ${timeoutMs} ms\n${diagnostics()}`)), timeoutMs);
      waiters.push({ msg, resolve: (r) => { clearTimeout(timer); resolve(r); } });
      void exited.then(() => { clearTimeout(timer); reject(new Error(`control plane exited before "${msg}"\n${diagnostics()}`)); });
    });
  };
  let ready: Record<string, unknown>;
  try {
    ready = await waitForLog(READY);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    url: String(ready.api),
    pid: child.pid as number,
    lines: () => lines,
    diagnostics,
    waitForLog,
    exited,
    async kill() {
      if (alive()) process.kill(child.pid as number, 'SIGKILL');
      await exited;
    },
    async stop() {
      if (alive()) {
        process.kill(child.pid as number, 'SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
        if (alive()) process.kill(child.pid as number, 'SIGKILL');
      }
      await exited;
    },
  };
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** One JSON request to the control plane; never throws for an HTTP error status. */
export async function cp<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text.length > 0 ? JSON.parse(text) : undefined) as T, headers: res.headers };
}
