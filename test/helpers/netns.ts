/**
 * Several Berth nodes on one machine: each node is a network namespace joined to a
 * bridge (in a hub namespace of its own) by a veth pair with MTU 65535, with a 10.x
 * address that exists only inside these namespaces. Engines run there under
 * `ip netns exec`; the test reaches each API through a unix socket that a socat in the
 * node's namespace forwards to the API's loopback port. Everything is removed by
 * `destroy()`: processes by PID, then the namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { nodeBin, repoRoot, run, sleep } from './tools.ts';

export const NODE_API_PORT = 9500;
export const NODE_ISCSI_PORT = 3260;
export const NODE_REPLICA_PORT = 9520;

export interface NetNode {
  index: number;
  ns: string;
  ip: string;
  /** The hub-side end of the node's link: `cut()` takes it down. */
  hubPort: string;
}

export interface NodeEngine {
  node: NetNode;
  pid: number;
  dataDir: string;
  /** `host:port` of its replica server, as other engines name it. */
  replica: string;
  iscsi: string;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  kill(): Promise<void>;
  stop(): Promise<void>;
  /** Starts again on the same data dir and ports (after kill or stop). */
  restart(): Promise<void>;
  running(): boolean;
  diagnostics(): string;
}

export class ApiCallError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiCallError';
    this.status = status;
    this.code = code;
  }
}

/** Runs `cmd` inside a namespace and waits for it. */
export function nsRun(ns: string, cmd: string, args: readonly string[], opts: { timeoutMs?: number; check?: boolean } = {}) {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

export class Cluster {
  readonly id: string;
  readonly hub: string;
  readonly nodes: NetNode[] = [];
  readonly dir: string;
  readonly #procs = new Set<ChildProcess>();
  readonly #subnet: string;

  private constructor() {
    this.id = randomBytes(3).toString('hex');
    this.hub = `berth-${this.id}-hub`;
    this.dir = mkdtempSync(join(tmpdir(), `berth-${this.id}-`));
    const b = randomBytes(2);
    this.#subnet = `10.${100 + (b[0] % 100)}.${b[1]}`;
  }

  /** `count` nodes n0..n(count-1) on one bridge; node i has address 10.x.y.(i+1). */
  static async create(count: number): Promise<Cluster> {
    const c = new Cluster();
    try {
      await run('ip', ['netns', 'add', c.hub]);
      await run('ip', ['-n', c.hub, 'link', 'add', 'br0', 'type', 'bridge']);
      await run('ip', ['-n', c.hub, 'link', 'set', 'br0', 'up']);
      for (let i = 0; i < count; i++) {
        const ns = `berth-${c.id}-n${i}`;
        const hubPort = `p${i}`;
        await run('ip', ['netns', 'add', ns]);
        await run('ip', ['link', 'add', 'eth0', 'netns', ns, 'mtu', '65535', 'type', 'veth', 'peer', 'name', hubPort, 'netns', c.hub, 'mtu', '65535']);
        await run('ip', ['-n', c.hub, 'link', 'set', hubPort, 'master', 'br0', 'up']);
        const ip = `${c.#subnet}.${i + 1}`;
        await run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
        await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
        await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        c.nodes.push({ index: i, ns, ip, hubPort });
      }
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  /** Cuts a node off the bridge: its packets are dropped silently, as on a failed link. */
  cut(node: NetNode): Promise<unknown> { return run('ip', ['-n', this.hub, 'link', 'set', node.hubPort, 'down']); }
  heal(node: NetNode): Promise<unknown> { return run('ip', ['-n', this.hub, 'link', 'set', node.hubPort, 'up']); }

  /** Starts an engine in the node's namespace on the fixed ports (one engine per node). */
  async startEngine(node: NetNode, extraArgs: string[] = []): Promise<NodeEngine> {
    const dataDir = join(this.dir, `data-n${node.index}`);
    const sock = join(this.dir, `api-n${node.index}.sock`);
    this.#spawn(node.ns, 'socat', [`UNIX-LISTEN:${sock},fork,unlink-early`, `TCP:127.0.0.1:${NODE_API_PORT}`]);
    let child: ChildProcess | undefined;
    let log = '';
    const launch = async (): Promise<void> => {
      log = '';
      child = this.#spawn(node.ns, nodeBin, [
        join(repoRoot, 'src', 'engine', 'main.ts'), '--data-dir', dataDir,
        '--api-listen', `127.0.0.1:${NODE_API_PORT}`, '--iscsi-listen', `${node.ip}:${NODE_ISCSI_PORT}`,
        // The replica server listens on the namespace's address; these engines share no token, so
        // they say openly that it is unauthenticated (test/nexus/replica_auth.test.ts covers the token).
        '--replica-listen', `${node.ip}:${NODE_REPLICA_PORT}`, '--log-level', 'info', '--insecure-no-auth', ...extraArgs,
      ]);
      const c = child;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`engine on ${node.ns} not ready after 60 s:\n${log.slice(-4000)}`)), 60_000);
        const onData = (chunk: string): void => {
          log = (log + chunk).slice(-64 * 1024);
          if (log.includes('"msg":"engine ready"')) { clearTimeout(timer); resolve(); }
        };
        c.stdout!.setEncoding('utf8').on('data', onData);
        c.stderr!.setEncoding('utf8').on('data', onData);
        c.once('exit', (code) => { clearTimeout(timer); reject(new Error(`engine on ${node.ns} exited ${code}:\n${log.slice(-4000)}`)); });
      });
    };
    const terminate = async (signal: NodeJS.Signals): Promise<void> => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill(signal);
      await exited;
    };
    await launch();
    const engine: NodeEngine = {
      node, dataDir, replica: `${node.ip}:${NODE_REPLICA_PORT}`, iscsi: `${node.ip}:${NODE_ISCSI_PORT}`,
      get pid() { return child?.pid ?? -1; },
      api: (method, path, body) => unixJson(sock, method, path, body),
      kill: () => terminate('SIGKILL'),
      stop: () => terminate('SIGTERM'),
      restart: async () => { await terminate('SIGKILL'); await launch(); },
      running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
      diagnostics: () => log,
    };
    // socat needs a moment to create its socket.
    for (let i = 0; i < 50; i++) {
      try { await engine.api('GET', '/v1/health'); break; } catch { await sleep(100); }
    }
    return engine;
  }

  /** Starts a long-running tool in a namespace; it is killed by PID in destroy(). */
  spawnIn(node: NetNode, cmd: string, args: string[]): ChildProcess { return this.#spawn(node.ns, cmd, args); }

  async destroy(): Promise<void> {
    for (const p of this.#procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid) {
        try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    await Promise.all([...this.#procs].map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    for (const n of this.nodes) await run('ip', ['netns', 'del', n.ns], { check: false });
    await run('ip', ['netns', 'del', this.hub], { check: false });
    rmSync(this.dir, { recursive: true, force: true });
  }

  #spawn(ns: string, cmd: string, args: string[]): ChildProcess {
    // `ip netns exec` execs the command itself, so the PID is the tool's own.
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#procs.add(child);
    child.once('exit', () => this.#procs.delete(child));
    child.stdout?.resume();
    child.stderr?.resume();
    return child;
  }
}

/** One JSON request over a unix socket; an {error} body throws ApiCallError. */
export function unixJson<T>(socketPath: string, method: string, path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({
      socketPath, method, path,
      headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const doc = text ? JSON.parse(text) as { error?: { code: string; message: string } } : undefined;
        if ((res.statusCode ?? 500) >= 400) {
          reject(new ApiCallError(res.statusCode ?? 500, doc?.error?.code ?? 'HTTP', `${method} ${path}: ${doc?.error?.code}: ${doc?.error?.message}`));
        } else {
          resolve(doc as T);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(payload);
  });
}
