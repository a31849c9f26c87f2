import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Throwaway etcd (Debian's etcd-server) on 127.0.0.1 with ports the kernel picked and a
 * temporary data directory. Members are killed by PID; `stop` removes everything.
 */
export interface EtcdMember {
  readonly name: string;
  readonly endpoint: string;
  readonly pid: number;
  /** SIGKILL this member (the others keep running). */
  kill(): Promise<void>;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  readonly endpoints: readonly string[];
  stop(): Promise<void>;
}

/** One member, for suites that need a single etcd. */
export interface EtcdProcess {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startEtcd(): Promise<EtcdProcess> {
  const cluster = await startEtcdCluster(1);
  const m = cluster.members[0];
  return { endpoint: m.endpoint, pid: m.pid, stop: () => cluster.stop() };
}

class PortTakenError extends Error {}

/**
 * A port the kernel handed out and we released can be taken by another process before
 * etcd binds it (other suites start servers too): such a start is retried on new ports.
 */
export async function startEtcdCluster(size: number): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdClusterOnce(size);
    } catch (e) {
      if (!(e instanceof PortTakenError) || attempt >= 4) throw e;
    }
  }
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

async function startEtcdClusterOnce(size: number): Promise<EtcdCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-etcd-'));
  const specs: Array<{ name: string; client: string; peer: string }> = [];
  const ports = await distinctFreePorts(2 * size);
  for (let i = 0; i < size; i++) {
    specs.push({ name: `m${i}`, client: `http://127.0.0.1:${ports[2 * i]}`, peer: `http://127.0.0.1:${ports[2 * i + 1]}` });
  }
  const initialCluster = specs.map((s) => `${s.name}=${s.peer}`).join(',');
  const children: ChildProcess[] = [];
  let stderr = '';
  // If the test process ends abruptly, do not leave etcd running.
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  };
  process.once('exit', killAll);
  const members: EtcdMember[] = specs.map((s) => {
    const child = spawn('etcd', [
      '--name', s.name, '--data-dir', join(dir, s.name),
      '--listen-client-urls', s.client, '--advertise-client-urls', s.client,
      '--listen-peer-urls', s.peer, '--initial-advertise-peer-urls', s.peer,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--log-level', 'error',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      name: s.name,
      endpoint: s.client,
      pid: child.pid as number,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          process.kill(child.pid, 'SIGKILL');
          await exited;
        }
      },
    };
  });
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killAll);
    for (const m of members) await m.kill();
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  const ready = new Set<string>();
  while (Date.now() < deadline && ready.size < size) {
    if (children.some((c) => c.exitCode !== null)) break;
    for (const m of members) {
      if (ready.has(m.name)) continue;
      try {
        // A range answers only once the member has a leader.
        const r = await fetch(`${m.endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'AA==' }) });
        if (r.ok) ready.add(m.name);
      } catch {
        // Not listening yet.
      }
    }
    if (ready.size < size) await sleep(100);
  }
  if (ready.size < size) {
    await stop();
    if (stderr.includes('address already in use')) throw new PortTakenError(`etcd could not bind its ports: ${stderr}`);
    throw new Error(`etcd did not start: ${stderr}`);
  }
  return { members, endpoints: members.map((m) => m.endpoint), stop };
}
