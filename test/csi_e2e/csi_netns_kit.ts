/**
 * A Berth cluster for the CSI end-to-end suite, one network namespace per node
 * (test/helpers/netns.ts builds them): the control plane and the CSI controller plugin
 * on a "control" node, and on each storage node an engine (API, iSCSI target and replica
 * service on the node's own address) and that node's CSI plugin (user-space attach: its
 * qemu-storage-daemon runs in the node's namespace and reaches the target over the
 * bridge). Processes enter only the network namespace (`nsenter --net`), not a mount
 * namespace of their own, so the plugins' mounts and loop devices are the host's, as a
 * kubelet sees them. The test itself reaches the control plane and each engine API
 * through a loopback port that two socats relay into the namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Cluster, type NetNode } from '../helpers/netns.ts';
import { freePort, nodeBin, pidAlive, repoRoot, run, sleep, waitFor } from '../helpers/tools.ts';
import { CsiClient } from '../csi/csi_client.ts';

const CONTROL_PORT = 9400;
const ENGINE_API_PORT = 9500;
const ISCSI_PORT = 3260;
const REPLICA_PORT = 9520;
/**
 * The APIs listen on the nodes' addresses, which exist only inside these namespaces;
 * tokens (docs/security.md) are another suite's subject.
 */
const INSECURE = '--insecure-no-auth';

export interface NsProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  log(): string;
  alive(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  kill(): Promise<void>;
}

export interface NsEngine {
  readonly nodeId: string;
  readonly node: NetNode;
  /** The engine API as the test reaches it (a loopback relay). */
  readonly api: string;
  /** `ip:port` of its iSCSI target on the node's address. */
  readonly portal: string;
  proc: NsProcess;
}

export interface NsCsi {
  readonly nodeId: string;
  readonly proc: NsProcess;
  readonly client: CsiClient;
  readonly socketPath: string;
}

/** Children still running when the test process exits (a crash of the runner) are killed there. */
const running = new Set<ChildProcess>();
process.on('exit', () => { for (const c of running) c.kill('SIGKILL'); });

export const initiatorOf = (node: string): string => `iqn.2026-11.io.berth.test:${node}`;

export class NsCsiCluster {
  readonly cluster: Cluster;
  readonly control: NetNode;
  /** The control plane as the test reaches it; engines and plugins use `controlUrlInside`. */
  controlUrl = '';
  readonly controlUrlInside: string;
  readonly engines = new Map<string, NsEngine>();
  readonly plugins: NsCsi[] = [];
  /** Every process ever started here, for the by-PID check at the end. */
  readonly started: NsProcess[] = [];
  readonly #nodeIds: string[];

  private constructor(cluster: Cluster, nodeIds: string[]) {
    this.cluster = cluster;
    this.control = cluster.nodes[0];
    this.controlUrlInside = `http://${this.control.ip}:${CONTROL_PORT}`;
    this.#nodeIds = nodeIds;
  }

  get dir(): string { return this.cluster.dir; }

  /** Namespaces for the control node and `nodeIds`; then the control plane, the engines and the controller plugin. */
  static async create(nodeIds: string[], controlArgs: string[]): Promise<NsCsiCluster> {
    const c = new NsCsiCluster(await Cluster.create(nodeIds.length + 1), nodeIds);
    try {
      await c.#startControlPlane(controlArgs);
      for (const id of nodeIds) await c.startEngine(id);
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  nodeOf(nodeId: string): NetNode {
    const i = this.#nodeIds.indexOf(nodeId);
    if (i < 0) throw new Error(`no node ${nodeId}`);
    return this.cluster.nodes[i + 1];
  }

  /** Starts (or starts again, on the same data dir) the engine of `nodeId`, registered by heartbeat. */
  async startEngine(nodeId: string): Promise<NsEngine> {
    const node = this.nodeOf(nodeId);
    const proc = await this.#spawn(`engine ${nodeId}`, node, nodeBin, [
      join(repoRoot, 'src', 'engine', 'main.ts'), '--data-dir', join(this.dir, `data-${nodeId}`),
      '--api-listen', `${node.ip}:${ENGINE_API_PORT}`, '--iscsi-listen', `${node.ip}:${ISCSI_PORT}`,
      '--replica-listen', `${node.ip}:${REPLICA_PORT}`, '--log-level', 'info',
      '--control-plane', this.controlUrlInside, '--node-id', nodeId,
      '--labels', `zone=z-${nodeId},storageGroup=r1,media=ssd,initiatorIqn=${initiatorOf(nodeId)}`, INSECURE,
    ]);
    await waitFor(`engine ${nodeId} ready`, () => {
      if (!proc.alive()) throw new Error(`engine ${nodeId} exited:\n${proc.log()}`);
      return proc.log().includes('"msg":"engine ready"') ? true : undefined;
    }, 60_000, 100);
    const known = this.engines.get(nodeId);
    if (known !== undefined) {
      known.proc = proc;
      return known;
    }
    const api = await this.#relay(`api-${nodeId}`, node, `${node.ip}:${ENGINE_API_PORT}`);
    const engine: NsEngine = { nodeId, node, api, portal: `${node.ip}:${ISCSI_PORT}`, proc };
    this.engines.set(nodeId, engine);
    return engine;
  }

  /** A CSI plugin in `nodeId`'s namespace (the controller's on the control node). */
  async startPlugin(nodeId: string, mode: 'all' | 'node' | 'controller'): Promise<NsCsi> {
    const node = mode === 'controller' ? this.control : this.nodeOf(nodeId);
    const socketPath = join(this.dir, `csi-${nodeId}.sock`);
    const proc = await this.#spawn(`csi ${nodeId}`, node, nodeBin, [
      join(repoRoot, 'src', 'csi', 'main.ts'), '--endpoint', `unix://${socketPath}`, '--log-level', 'debug',
      '--mode', mode, '--node-id', nodeId, '--state-dir', join(this.dir, `state-${nodeId}`), '--attacher', 'userspace',
      '--initiator-name', initiatorOf(nodeId), '--control-plane', this.controlUrlInside,
    ]);
    const client = new CsiClient(socketPath);
    await waitFor(`CSI plugin ${nodeId} to answer Probe`, async () => {
      if (!proc.alive()) throw new Error(`CSI plugin ${nodeId} exited:\n${proc.log()}`);
      return client.call('Identity', 'Probe', {}).then(() => true, () => undefined);
    }, 30_000, 100);
    const plugin = { nodeId, proc, client, socketPath };
    this.plugins.push(plugin);
    return plugin;
  }

  /** A node failure: its engine is killed and its link to the bridge taken down. */
  async failNode(nodeId: string): Promise<void> {
    await (this.engines.get(nodeId) as NsEngine).proc.kill();
    await this.cluster.cut(this.nodeOf(nodeId));
  }

  /** The node returns: link up, engine started again on its data. */
  async recoverNode(nodeId: string): Promise<void> {
    await this.cluster.heal(this.nodeOf(nodeId));
    await this.startEngine(nodeId);
  }

  /** PIDs of processes started here that are still running. */
  livePids(): number[] {
    return this.started.filter((p) => pidAlive(p.pid) && p.alive()).map((p) => p.pid);
  }

  /** Plugins, engines, control plane, relays (all by PID), then the namespaces and the directory. */
  async destroy(): Promise<void> {
    for (const p of this.plugins) p.client.close();
    for (const p of this.plugins) await p.proc.stop(15_000);
    for (const e of this.engines.values()) await e.proc.stop(10_000);
    for (const p of [...this.started].reverse()) await p.stop(5_000);
    await this.cluster.destroy();
  }

  async #startControlPlane(args: string[]): Promise<void> {
    const proc = await this.#spawn('control plane', this.control, nodeBin, [
      join(repoRoot, 'src', 'control', 'main.ts'), '--listen', `${this.control.ip}:${CONTROL_PORT}`,
      '--store', `sqlite:${join(this.dir, 'control.db')}`, '--log-level', 'info', '--reconcile-interval-ms', '500', INSECURE, ...args,
    ]);
    await waitFor('control plane ready', () => {
      if (!proc.alive()) throw new Error(`control plane exited:\n${proc.log()}`);
      return proc.log().includes('"msg":"control plane ready"') ? true : undefined;
    }, 30_000, 100);
    this.controlUrl = await this.#relay('control', this.control, `${this.control.ip}:${CONTROL_PORT}`);
  }

  /** 127.0.0.1:PORT on the host → unix socket → `target` inside the namespace. */
  async #relay(name: string, node: NetNode, target: string): Promise<string> {
    const sock = join(this.dir, `relay-${name}.sock`);
    await this.#spawn(`relay ${name} (inside)`, node, 'socat', [`UNIX-LISTEN:${sock},fork,unlink-early`, `TCP:${target}`]);
    const port = await freePort();
    await this.#spawn(`relay ${name} (host)`, undefined, 'socat', [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`]);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`relay ${name}`, async () => (await fetch(`${url}/v1/health`).then((r) => r.ok || r.status < 500, () => false)) ? true : undefined, 10_000, 100);
    return url;
  }

  /** `nsenter --net` execs the command, so the PID is the program's own. */
  async #spawn(name: string, node: NetNode | undefined, cmd: string, args: string[]): Promise<NsProcess> {
    const argv = node === undefined ? [cmd, ...args] : ['nsenter', `--net=/run/netns/${node.ns}`, cmd, ...args];
    const child = spawn(argv[0], argv.slice(1), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (c: string): void => { log = (log + c).slice(-64_000); };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    running.add(child);
    void exited.then(() => running.delete(child));
    const alive = (): boolean => child.exitCode === null && child.signalCode === null;
    const stop = async (graceMs = 10_000): Promise<void> => {
      if (alive()) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(graceMs)]);
        if (alive()) child.kill('SIGKILL');
      }
      await exited;
    };
    const p: NsProcess = {
      name, child, pid: child.pid as number, log: () => log, alive, stop,
      kill: async () => { if (alive()) child.kill('SIGKILL'); await exited; },
    };
    this.started.push(p);
    return p;
  }
}

/** Namespaces whose name carries the cluster's id (none once it is destroyed). */
export async function namespacesOf(id: string): Promise<string[]> {
  const out = (await run('ip', ['netns', 'list'], { check: false })).stdout;
  return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.includes(`berth-${id}-`));
}
