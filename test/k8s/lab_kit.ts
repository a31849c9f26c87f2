/**
 * The lab cluster (../shared/k8s-lab: a real single-node Kubernetes v1.26 built from
 * source, host processes on 127.0.0.1) as the e2e sees it: whether it runs, kubectl
 * against it, the images it needs imported (Berth's from scripts/build-image.sh, the CSI
 * sidecars from the binaries the lab built), and waits on objects.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, copyFileSync, chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive, run, repoRoot, sleep, type RunResult } from '../helpers/tools.ts';

export const LAB = process.env.K8S_LAB ?? '/var/tmp/k8s-lab';
export const KUBECONFIG = join(LAB, 'etc', 'admin.kubeconfig');
/** Where the e2e keeps what it adds to the lab (sidecar images, livenessprobe). */
export const EXTRA = process.env.BERTH_LAB_EXTRA ?? '/var/tmp/berth-lab-extra';
export const BERTH_IMAGE = 'berth:dev';

/** The sidecar binaries the lab builds, the image each becomes, and test/k8s/overlay's tags. */
export const SIDECARS: { bin: string; image: string; dir: string }[] = [
  { bin: 'csi-provisioner', image: 'registry.k8s.io/sig-storage/csi-provisioner:v3.4.1', dir: LAB },
  { bin: 'csi-attacher', image: 'registry.k8s.io/sig-storage/csi-attacher:v4.2.0', dir: LAB },
  { bin: 'csi-resizer', image: 'registry.k8s.io/sig-storage/csi-resizer:v1.7.0', dir: LAB },
  { bin: 'csi-snapshotter', image: 'registry.k8s.io/sig-storage/csi-snapshotter:v6.2.2', dir: LAB },
  { bin: 'csi-node-driver-registrar', image: 'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.7.0', dir: LAB },
  // The lab does not build it; docs/kubernetes.md says how (kubernetes-csi/livenessprobe v2.9.0).
  { bin: 'livenessprobe', image: 'registry.k8s.io/sig-storage/livenessprobe:v2.9.0', dir: EXTRA },
];

const env = (): NodeJS.ProcessEnv => ({ ...process.env, KUBECONFIG });

/** Why the lab cannot be used, or undefined when it answers. */
export async function labProblem(): Promise<string | undefined> {
  if (!existsSync(KUBECONFIG)) return `no lab kubeconfig at ${KUBECONFIG}`;
  const ready = await run('kubectl', ['get', '--raw', '/readyz'], { env: env(), check: false, timeoutMs: 15_000 }).catch((e: unknown) => ({ code: 1, stdout: '', stderr: String(e) }));
  if (ready.code !== 0) return `the lab API server does not answer (${ready.stderr.trim().split('\n')[0]})`;
  for (const s of SIDECARS) {
    const path = join(s.dir, 'bin', s.bin);
    if (!existsSync(path)) return `${path} is missing (docs/kubernetes.md: building the lab's sidecars)`;
  }
  if (!existsSync(join(LAB, 'bin', 'snapshot-controller'))) return `${LAB}/bin/snapshot-controller is missing`;
  const holder = takeLabLock();
  if (holder !== undefined) return `another e2e:k8s run (pid ${holder}) is using the lab`;
  return undefined;
}

const LOCK = join(EXTRA, 'e2e.lock');

/**
 * One run at a time: two would share berth-system, the node and the host paths. The
 * lock file names its holder's pid; a holder that is gone leaves a stale lock, taken
 * over. Returns the live holder's pid, or undefined when this process now holds it.
 */
export function takeLabLock(): number | undefined {
  mkdirSync(EXTRA, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(LOCK, `${process.pid}\n`, { flag: 'wx' });
      process.on('exit', () => {
        if (readFileSync(LOCK, 'utf8').trim() === String(process.pid)) rmSync(LOCK, { force: true });
      });
      return undefined;
    } catch {
      const pid = Number(readFileSync(LOCK, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) return pid;
      rmSync(LOCK, { force: true });
    }
  }
  return Number(readFileSync(LOCK, 'utf8').trim());
}

export async function kubectl(args: string[], opts: { input?: string; check?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const result = await new Promise<RunResult>((resolve, reject) => {
    const child = spawn('kubectl', args, { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ stdout, stderr, code: code ?? -1 }); });
    child.stdin.end(opts.input ?? '');
  });
  if (result.code !== 0 && (opts.check ?? true)) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${(result.stderr || result.stdout).trim().slice(-2000)}`);
  return result;
}

export async function kubectlJson<T>(args: string[]): Promise<T> {
  return JSON.parse((await kubectl([...args, '-o', 'json'])).stdout) as T;
}

/** `kubectl apply -f -` of objects written as JSON. */
export async function apply(...objects: object[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 2000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

export async function importImage(archive: string): Promise<void> {
  await run('ctr', ['-n', 'k8s.io', 'images', 'import', archive], { timeoutMs: 600_000 });
}

/** Berth's image, built offline by scripts/build-image.sh (its root filesystem is cached). */
export async function buildAndImportBerth(log: (line: string) => void): Promise<void> {
  const out = join(EXTRA, 'images', 'berth.tar');
  mkdirSync(join(EXTRA, 'images'), { recursive: true });
  const r = await run('bash', [join(repoRoot, 'scripts', 'build-image.sh'), '--tag', BERTH_IMAGE, '--out', out], { timeoutMs: 1_800_000 });
  log(r.stdout.trim().split('\n').at(-1) ?? '');
  await importImage(out);
}

/** The `kubectl berth bench --class` image (fio, PostgreSQL), built offline by deploy/bench/build-image.sh. */
export const BENCH_IMAGE = 'berth-bench:dev';

export async function buildAndImportBench(log: (line: string) => void): Promise<void> {
  const out = join(EXTRA, 'images', 'berth-bench.tar');
  mkdirSync(join(EXTRA, 'images'), { recursive: true });
  const r = await run('bash', [join(repoRoot, 'deploy', 'bench', 'build-image.sh'), '--tag', BENCH_IMAGE, '--out', out], { timeoutMs: 1_800_000 });
  log(r.stdout.trim().split('\n').at(-1) ?? '');
  await importImage(out);
}

/** One image per sidecar: its static binary at /NAME as the entry point. */
export async function importSidecars(log: (line: string) => void): Promise<void> {
  const have = (await run('ctr', ['-n', 'k8s.io', 'images', 'ls', '-q'])).stdout.split('\n');
  for (const s of SIDECARS) {
    const bin = join(s.dir, 'bin', s.bin);
    const archive = join(EXTRA, 'images', `${s.bin}.tar`);
    if (have.includes(s.image) && existsSync(archive) && statSync(archive).mtimeMs > statSync(bin).mtimeMs) continue;
    const root = join(EXTRA, 'rootfs', s.bin);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    copyFileSync(bin, join(root, s.bin));
    chmodSync(join(root, s.bin), 0o755);
    const layer = join(EXTRA, 'images', `${s.bin}.layer.tar`);
    await run('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-cf', layer, s.bin, 'tmp']);
    await run('bash', [join(repoRoot, 'scripts', 'image-archive.sh'), archive, s.image, JSON.stringify({ Entrypoint: [`/${s.bin}`] }), layer]);
    rmSync(layer, { force: true });
    await importImage(archive);
    log(`imported ${s.image}`);
  }
}
