/**
 * Berth in the lab cluster: deploy/ applied through test/k8s/overlay, the operator's
 * steps around it (the berth-auth Secret, the storage-node label, a pool per engine),
 * the snapshot CRDs and snapshot-controller a cluster provides once, storage-only
 * engines as host processes, the control plane's API, and the teardown with the
 * leftover checks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, type EngineProcess } from '../helpers/engine_process.ts';
import { repoRoot, run, sleep } from '../helpers/tools.ts';
import { KUBECONFIG, LAB, apply, kubectl, kubectlJson, until } from './lab_kit.ts';

/** `BERTH_E2E_OVERLAY=local-attach` applies test/k8s/overlay-local-attach: the lab overlay plus the local-attach component. */
export const LOCAL_ATTACH = ((): boolean => {
  const v = process.env.BERTH_E2E_OVERLAY;
  if (v !== undefined && v !== '' && v !== 'local-attach') throw new Error(`BERTH_E2E_OVERLAY must be unset or local-attach, not '${v}'`);
  return v === 'local-attach';
})();
export const OVERLAY = join(repoRoot, 'test', 'k8s', LOCAL_ATTACH ? 'overlay-local-attach' : 'overlay');
export const NS = 'berth-system';
export const CONTROL = 'http://127.0.0.1:9600';
/** Host paths the shipped manifests use (hostPath volumes): the e2e clears them before and after. */
export const HOST_STATE = ['/var/lib/berth-control', '/var/lib/berth/engine', '/var/lib/berth/engine-code', '/var/lib/kubelet/plugins/csi.berth.io'];
const CRDS = join(LAB, 'src', 'external-snapshotter', 'client', 'config', 'crd');

export class LabBerth {
  readonly token = randomBytes(32).toString('hex');
  readonly engines: EngineProcess[] = [];
  node = '';
  private snapshotController: ChildProcess | undefined;
  private installedCrds = false;
  /** Set once this run starts changing the cluster for Berth: only then does teardown undo it. */
  private applied = false;

  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${CONTROL}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return (text.length > 0 ? JSON.parse(text) : undefined) as T;
  }

  /** The snapshot API a cluster installs once (CRDs + snapshot-controller, the lab's v6.2.2 build). */
  async startSnapshotSupport(): Promise<void> {
    const have = await kubectl(['get', 'crd', 'volumesnapshots.snapshot.storage.k8s.io'], { check: false });
    if (have.code !== 0) {
      await kubectl(['apply', '-k', CRDS]);
      this.installedCrds = true;
      await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/volumesnapshots.snapshot.storage.k8s.io', 'crd/volumesnapshotcontents.snapshot.storage.k8s.io', 'crd/volumesnapshotclasses.snapshot.storage.k8s.io']);
    }
    const child = spawn(join(LAB, 'bin', 'snapshot-controller'), [`--kubeconfig=${KUBECONFIG}`, '--leader-election=false', '--v=2'], { stdio: 'ignore' });
    // Never keeps the test process alive, and never outlives it.
    child.unref();
    process.on('exit', () => child.kill('SIGKILL'));
    this.snapshotController = child;
  }

  async deploy(log: (l: string) => void): Promise<void> {
    this.node = (await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout.trim();
    if ((await kubectl(['get', 'namespace', NS], { check: false })).code === 0) {
      throw new Error(`${NS} exists already (an aborted run?): remove it first with KUBECONFIG=${KUBECONFIG} kubectl delete -k test/k8s/overlay, or ../shared/k8s-lab/up.sh purge`);
    }
    this.applied = true;
    clearHostState();
    // The operator's steps (docs/deploy.md): the token Secret, and which nodes store data.
    await kubectl(['label', 'node', this.node, 'berth.io/engine=true', '--overwrite']);
    const applied = await kubectl(['apply', '-k', OVERLAY]);
    log(applied.stdout.trim());
    await kubectl(['-n', NS, 'create', 'secret', 'generic', 'berth-auth', `--from-literal=token=${this.token}`]);
    await kubectl(['-n', NS, 'rollout', 'status', 'deployment/berth-control', '--timeout=600s'], { timeoutMs: 620_000 });
    for (const ds of ['berth-engine', 'berth-csi-node', ...(LOCAL_ATTACH ? ['berth-engine-code'] : [])]) await daemonSetReady(ds);
    await until('the control plane API', async () => ((await this.api<{ leader?: boolean }>('GET', '/v1/health')) ? true : undefined), 120_000);
  }

  /** A pool on `nodeId`'s engine, through the control plane; waits until a heartbeat shows it online. */
  async pool(nodeId: string, name: string, sizeBytes: number): Promise<void> {
    await this.nodeOnline(nodeId);
    const made = await this.api<{ id: string }>('POST', '/v1/pools', { nodeId, name, sizeBytes });
    await until(`pool ${made.id} online`, async () => ((await this.api<{ status: string }>('GET', `/v1/pools/${encodeURIComponent(made.id)}`)).status === 'online' ? true : undefined), 120_000);
  }

  async nodeOnline(nodeId: string): Promise<void> {
    await until(`node ${nodeId} online`, async () => ((await this.api<{ state?: { status?: string } }>('GET', `/v1/nodes/${encodeURIComponent(nodeId)}`)).state?.status === 'online' ? true : undefined), 180_000);
  }

  /** A storage-only engine: a host process outside the cluster that registers with the control plane. */
  async storageEngine(nodeId: string, zone: string): Promise<EngineProcess> {
    const e = await startEngine({
      authToken: this.token, readyTimeoutMs: 60_000,
      args: ['--control-plane', CONTROL, '--node-id', nodeId, '--labels', `zone=${zone},storageGroup=${nodeId},media=ssd`],
    });
    this.engines.push(e);
    return e;
  }

  /** Deletes what the test made in `ns`, then Berth itself, and the lab additions. */
  async teardown(ns: string | undefined, log: (l: string) => void): Promise<void> {
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        log(`teardown: ${what}: ${(err as Error).message.split('\n')[0]}`);
      }
    };
    if (this.applied && ns !== undefined) {
      // Replicas on the cluster node are deleted by its engine: bring it back if a test removed it.
      await step('engine label', () => kubectl(['label', 'node', this.node, 'berth.io/engine=true', '--overwrite']));
      await step('namespace', () => kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=300s'], { timeoutMs: 320_000, check: false }));
      await step('classes', () => kubectl(['delete', 'storageclass', '-l', 'berth.io/e2e=true', '--wait=true'], { check: false }));
      await step('PVs gone', () => until('no Berth PV', async () => ((await berthPVs()).length === 0 ? true : undefined), 300_000));
      await step('attachments gone', () => until('no Berth VolumeAttachment', async () => ((await berthAttachments()).length === 0 ? true : undefined), 300_000));
    }
    if (this.applied) {
      await step('deploy/', () => kubectl(['delete', '-k', OVERLAY, '--wait=true', '--timeout=300s', '--ignore-not-found'], { timeoutMs: 320_000, check: false }));
      await step('namespace berth-system', () => until('berth-system gone', async () => ((await kubectl(['get', 'namespace', NS], { check: false })).code !== 0 ? true : undefined), 300_000));
      await step('node label', () => kubectl(['label', 'node', this.node, 'berth.io/engine-'], { check: false }));
      // Kubelet copies NodeGetInfo's topology onto the Node and keeps it after the driver goes.
      await step('topology labels', async () => {
        const labels = (await kubectlJson<{ metadata: { labels: Record<string, string> } }>(['get', 'node', this.node])).metadata.labels;
        const ours = Object.keys(labels).filter((k) => k.startsWith('topology.berth.io/'));
        if (ours.length > 0) await kubectl(['label', 'node', this.node, ...ours.map((k) => `${k}-`)]);
      });
    }
    for (const e of this.engines.splice(0)) await step('storage engine', () => e.stop());
    if (this.snapshotController?.pid !== undefined) {
      this.snapshotController.kill('SIGTERM');
      await step('snapshot-controller', () => until('snapshot-controller exit', async () => (this.snapshotController?.exitCode !== null || this.snapshotController.signalCode !== null ? true : undefined), 30_000, 200));
      this.snapshotController = undefined;
    }
    if (this.installedCrds) await step('CRDs', () => kubectl(['delete', '-k', CRDS, '--ignore-not-found'], { check: false }));
    this.installedCrds = false;
    if (this.applied) {
      await sleep(1000);
      clearHostState();
      this.applied = false;
    }
  }
}

/** Removes the manifests' host paths, never through a mount still under one (reported instead). */
/**
 * Every pod of the DaemonSet scheduled, up to date and ready. Not `rollout status`: the
 * local-attach component makes the engine OnDelete, which that does not follow.
 */
export async function daemonSetReady(name: string): Promise<void> {
  await until(`daemonset ${name} ready`, async () => {
    const s = (await kubectlJson<{ status: { desiredNumberScheduled?: number; numberReady?: number; updatedNumberScheduled?: number } }>(['-n', NS, 'get', 'daemonset', name])).status;
    const want = s.desiredNumberScheduled ?? 0;
    return want > 0 && s.numberReady === want && s.updatedNumberScheduled === want ? true : undefined;
  }, 600_000);
}

export function clearHostState(): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const dir of HOST_STATE) {
    if (mounts.some((m) => m === dir || m.startsWith(`${dir}/`))) throw new Error(`a mount is still under ${dir}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function berthPVs(): Promise<string[]> {
  const list = await kubectlJson<{ items: { metadata: { name: string }; spec: { csi?: { driver: string } } }[] }>(['get', 'pv']);
  return list.items.filter((p) => p.spec.csi?.driver === 'csi.berth.io').map((p) => p.metadata.name);
}

export async function berthAttachments(): Promise<string[]> {
  const list = await kubectlJson<{ items: { metadata: { name: string }; spec: { attacher: string } }[] }>(['get', 'volumeattachments']);
  return list.items.filter((a) => a.spec.attacher === 'csi.berth.io').map((a) => a.metadata.name);
}

/**
 * What Berth could leave on the host: loop devices over the user-space attacher's FUSE
 * exports, mounts of its state dir or of CSI volumes, its daemons (qemu-storage-daemon,
 * any process running from the image's /opt/berth), and its host state directories.
 */
export async function hostLeftovers(): Promise<string[]> {
  const left: string[] = [];
  // Only this deployment's: other suites on the machine use loop devices and netns named berth-….
  const mine = /csi\.berth\.io|kubernetes\.io~csi\/pvc-/;
  const loops = (await run('losetup', ['-a'], { check: false })).stdout.split('\n').filter((l) => mine.test(l));
  left.push(...loops.map((l) => `loop: ${l}`));
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => mine.test(l));
  left.push(...mounts.map((l) => `mount: ${l.split(' ').slice(0, 3).join(' ')}`));
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (/qemu-storage-daemon/.test(cmd) && mine.test(cmd)) left.push(`daemon ${pid}: ${cmd.slice(0, 160)}`);
      else if (/\/opt\/berth$/.test(cwd) && /node/.test(cmd)) left.push(`Berth process ${pid}: ${cmd.slice(0, 160)}`);
    } catch {
      // gone meanwhile
    }
  }
  for (const dir of ['/var/lib/kubelet/plugins/csi.berth.io/csi.sock']) if (existsSync(dir)) left.push(`socket: ${dir}`);
  return left;
}

/** Host PIDs of the in-cluster engine workers: the engine processes whose parent is an engine process too (its FUSE keeper). */
export function engineWorkers(): number[] {
  const engine = (pid: string): boolean => {
    try {
      // Node itself running the engine's entry point (not tini, whose arguments name it too).
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return readlinkSync(`/proc/${pid}/cwd`) === '/opt/berth' && /(^|\/)node$/.test(argv[0] ?? '') && argv.some((a) => /src\/engine\/main\.ts$/.test(a));
    } catch {
      return false;
    }
  };
  const workers: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (!engine(pid)) continue;
    // Field 4 of /proc/PID/stat, after the command name in parentheses.
    const ppid = (() => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]; } catch { return undefined; } })();
    if (ppid !== undefined && engine(ppid)) workers.push(Number(pid));
  }
  return workers;
}

export { apply };
