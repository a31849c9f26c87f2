/**
 * `kubectl berth [--node NODE] pool create …`: the engine-local commands of the `berth`
 * CLI (pools on a node's disks, its volumes and exports) run inside that node's engine
 * pod, against that engine's API, as the earlier shell plugin did (docs/deploy.md).
 */
import { spawn } from 'node:child_process';
import { BerthError } from '../util/errors.ts';
import { CLUSTER_DEFAULTS, kubectl } from './kubectl_cluster.ts';

/** `berth` command groups that talk to one engine; `bench` is the plugin's own. */
export const ENGINE_COMMANDS = ['status', 'pool', 'volume', 'export', 'nexus', 'replica', 'snapshot'] as const;
export const ENGINE_SELECTOR = 'app.kubernetes.io/name=berth,app.kubernetes.io/component=engine';

/** Flags of either program that take a value: their value is never the command word. */
const VALUE_FLAGS = ['-o', '--output', '--api', '--token-file', '-n', '--namespace', '--control-plane', '--berth-namespace', '--service'];

export interface EngineExec { node?: string; args: string[] }

/** Arguments for an engine pod, or undefined for a plugin command (pure). */
export function engineExecOf(argv: readonly string[]): EngineExec | undefined {
  if (argv[0] === '--node') {
    if (argv.length < 2 || argv[1].startsWith('-')) throw new BerthError('INVALID_ARGUMENT', '--node needs a node name');
    return { node: argv[1], args: argv.slice(2) };
  }
  // Global berth flags may come first (`-o json pool list`): the first word not a flag or its value decides.
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i];
    if (w.startsWith('-')) {
      if (!w.includes('=') && VALUE_FLAGS.includes(w)) i++;
      continue;
    }
    return (ENGINE_COMMANDS as readonly string[]).includes(w) ? { args: [...argv] } : undefined;
  }
  return undefined;
}

/** Runs `berth ARGS` in the engine pod (of the node, when given); resolves with its exit code. */
export async function execInEngine(e: EngineExec, namespace = process.env.BERTH_NAMESPACE ?? CLUSTER_DEFAULTS.namespace): Promise<number> {
  const field = e.node === undefined ? [] : ['--field-selector', `spec.nodeName=${e.node}`];
  const pods = (await kubectl(['get', 'pods', '-n', namespace, '-l', ENGINE_SELECTOR, ...field, '-o', 'jsonpath={.items[*].metadata.name}'])).trim();
  const pod = pods.split(/\s+/)[0];
  if (!pod) throw new BerthError('NOT_FOUND', `no Berth engine pod${e.node === undefined ? '' : ` on node ${e.node}`} in namespace ${namespace}`);
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['exec', '-n', namespace, '-c', 'engine', pod, '--', 'berth', ...e.args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
