/**
 * What `kubectl berth` asks Kubernetes, always through the user's own `kubectl` (its
 * context, credentials and RBAC): PVs and pods for names, the control plane's Service
 * for a port-forward, and the cluster token's Secret. The Berth processes themselves
 * never call the Kubernetes API.
 */
import { execFile, spawn } from 'node:child_process';
import { BerthError } from '../util/errors.ts';
import { NO_CLUSTER_FACTS, podsByPvc, pvIndex, type ClusterFacts } from './kubectl_chain.ts';

/** Names from deploy/base: the namespace, the control plane's Service and port, the token's Secret. */
export const CLUSTER_DEFAULTS = { namespace: 'berth-system', service: 'berth-control', port: 9600, secret: 'berth-auth' } as const;

export class KubectlError extends BerthError {
  constructor(message: string) { super('KUBECTL_FAILED', message); }
}

export function kubectl(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', args, { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new KubectlError(`kubectl ${args.slice(0, 3).join(' ')}: ${(stderr || err.message).trim().split('\n')[0]}`));
      else resolve(stdout);
    });
  });
}

export async function kubectlJson(args: readonly string[]): Promise<unknown> {
  const out = await kubectl([...args, '-o', 'json']);
  try {
    return JSON.parse(out);
  } catch {
    throw new KubectlError(`kubectl ${args.join(' ')} printed no JSON`);
  }
}

/** PV and pod names from the cluster; without kubectl (or rights) the names stay empty and a note says why. */
export async function clusterFacts(warn: (line: string) => void): Promise<ClusterFacts> {
  try {
    const [pvs, pods] = await Promise.all([kubectlJson(['get', 'pv']), kubectlJson(['get', 'pods', '-A'])]);
    return { pvs: pvIndex(pvs), pods: podsByPvc(pods) };
  } catch (err) {
    warn(`note: PVC and pod names not shown (${(err as Error).message})`);
    return NO_CLUSTER_FACTS;
  }
}

/** `Forwarding from 127.0.0.1:41234 -> 9600` → the local URL (IPv4 only; kubectl prints it first). */
export function forwardedUrl(line: string): string | undefined {
  const m = /^Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(line.trim());
  return m ? `http://127.0.0.1:${m[1]}` : undefined;
}

export interface Forward { url: string; stop(): void }

/** `kubectl port-forward svc/berth-control :9600`, until the first "Forwarding from" line. */
export function portForward(namespace: string, service: string, port: number, timeoutMs = 30_000): Promise<Forward> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['port-forward', '-n', namespace, `svc/${service}`, `:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(new KubectlError(`cannot reach the control plane through svc/${service} in ${namespace}: ${why}; `
        + 'give --control-plane URL instead'));
    };
    const timer = setTimeout(() => fail(`no port-forward after ${timeoutMs} ms`), timeoutMs);
    child.on('error', (e) => fail(e.message));
    child.on('exit', (code) => fail(`kubectl port-forward exited (${code}): ${err.trim().split('\n')[0] ?? ''}`));
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        const url = forwardedUrl(line);
        if (url === undefined) continue;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.stdout.removeAllListeners('data');
        // Keep draining its "Handling connection" lines; the caller stops it when done.
        child.stdout.resume();
        child.stderr.resume();
        resolve({ url, stop: () => { child.kill('SIGTERM'); } });
        return;
      }
    });
  });
}

/** The cluster API token from its Secret, or undefined when it cannot be read (never printed). */
export async function clusterToken(namespace: string, secret: string): Promise<string | undefined> {
  try {
    const b64 = (await kubectl(['get', 'secret', '-n', namespace, secret, '-o', 'jsonpath={.data.token}'])).trim();
    const token = Buffer.from(b64, 'base64').toString('utf8').trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}
