/**
 * `kubectl berth`: a kubectl plugin (bin/kubectl-berth on PATH) that reads the control
 * plane: volumes with their PVCs and pods, the chain behind a PVC, nodes, pools,
 * rebuilds, events; and the bench (Jobs in the cluster, or from this host). It reaches
 * the control plane at --control-plane, or through a port-forward to the berth-control
 * Service; it asks Kubernetes (PVs, pods, the token's Secret, and for the bench its PVC
 * and Jobs) only through the user's own kubectl. The engine-local `berth`
 * commands (pool, volume, export, …) still run in an engine pod (kubectl_exec.ts).
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Command } from 'commander';
import { ApiClient, ApiError } from './api_client.ts';
import { parseOutputFormat, type OutputFormat } from './cli_output.ts';
import { cliTokenSource, reportError } from './cli_context.ts';
import { CLUSTER_DEFAULTS, clusterFacts, clusterToken, kubectlJson, portForward, type Forward } from './kubectl_cluster.ts';
import { NO_CLUSTER_FACTS, type ClusterFacts } from './kubectl_chain.ts';
import { registerPluginCommands, type PluginContext } from './kubectl_commands.ts';
import { ENGINE_COMMANDS, engineExecOf, execInEngine } from './kubectl_exec.ts';
import { BERTH_VERSION } from '../util/entry_point.ts';

interface GlobalFlags {
  controlPlane?: string; tokenFile?: string; output: string; namespace: string; berthNamespace: string; service: string; kubernetes: boolean;
}

function onPath(cmd: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || '.', cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The Service's `api` port (deploy/base names it so), or the default. */
async function servicePort(namespace: string, service: string): Promise<number> {
  const svc = await kubectlJson(['get', 'svc', '-n', namespace, service]) as { spec?: { ports?: { name?: string; port?: number }[] } };
  const ports = svc.spec?.ports ?? [];
  return (ports.find((p) => p.name === 'api') ?? ports[0])?.port ?? CLUSTER_DEFAULTS.port;
}

export function buildPluginProgram(forwards: Forward[]): Command {
  const program = new Command('kubectl berth')
    .description('Berth storage as seen from Kubernetes: volumes, PVC chains, nodes, pools, rebuilds, events, bench')
    .option('--control-plane <url>', 'control plane API URL (default: $BERTH_CONTROL_PLANE, else a port-forward to the berth-control Service)')
    .option('--token-file <path>', 'file holding the cluster API token (default: $BERTH_AUTH_TOKEN_FILE, else the berth-auth Secret)')
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .option('-n, --namespace <ns>', 'namespace of the PVC for describe pvc', 'default')
    .option('--berth-namespace <ns>', 'namespace Berth runs in', CLUSTER_DEFAULTS.namespace)
    .option('--service <name>', 'the control plane\'s Service', CLUSTER_DEFAULTS.service)
    .option('--no-kubernetes', 'do not call kubectl (no PVC or pod names from the cluster)')
    .version(`kubectl-berth ${BERTH_VERSION}`, '--version', 'print the version and exit')
    .showHelpAfterError()
    .addHelpText('after', `
The berth CLI's engine-local commands (${ENGINE_COMMANDS.join(', ')}) run inside an engine pod:
  kubectl berth [--node NODE] pool create fast --path /dev/nvme1n1`)
    .exitOverride();
  const opts = (): GlobalFlags => program.opts();
  const useKubectl = (): boolean => opts().kubernetes && onPath('kubectl');
  const fileToken = cliTokenSource(() => opts().tokenFile);
  let client: Promise<ApiClient> | undefined;
  let facts: Promise<ClusterFacts> | undefined;
  const connect = async (): Promise<ApiClient> => {
    const o = opts();
    const given = o.controlPlane ?? process.env.BERTH_CONTROL_PLANE;
    if (given) return new ApiClient(given, fileToken());
    if (!useKubectl()) {
      throw new ApiError('NO_CONTROL_PLANE', 'give --control-plane URL (or $BERTH_CONTROL_PLANE): kubectl is not on PATH to find the berth-control Service');
    }
    const port = await servicePort(o.berthNamespace, o.service);
    const forward = await portForward(o.berthNamespace, o.service, port);
    forwards.push(forward);
    return new ApiClient(forward.url, fileToken() ?? await clusterToken(o.berthNamespace, CLUSTER_DEFAULTS.secret));
  };
  const ctx: PluginContext = {
    api: () => (client ??= connect()),
    facts: () => (facts ??= useKubectl() ? clusterFacts((line) => { process.stderr.write(line + '\n'); }) : Promise.resolve(NO_CLUSTER_FACTS)),
    format: (): OutputFormat => parseOutputFormat(opts().output, ['table', 'json', 'yaml']),
    namespace: () => opts().namespace,
    run: (fn) => async (...args) => {
      ctx.format();
      await fn(...args);
    },
  };
  registerPluginCommands(program, ctx);
  for (const c of program.commands) c.exitOverride();
  return program;
}

async function main(): Promise<void> {
  const forwards: Forward[] = [];
  let exec;
  // A bad --node is a usage error (exit 2), like commander's own.
  try {
    exec = engineExecOf(process.argv.slice(2));
  } catch (err) {
    process.exitCode = reportError(err) + 1;
    return;
  }
  try {
    if (exec) {
      process.exitCode = await execInEngine(exec);
      return;
    }
    await buildPluginProgram(forwards).parseAsync(process.argv.slice(2), { from: 'user' });
  } catch (err) {
    const e = err as { code?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
      process.exitCode = 0;
    } else {
      process.exitCode = reportError(err);
    }
  } finally {
    for (const f of forwards) f.stop();
  }
}

if (import.meta.main) await main();
