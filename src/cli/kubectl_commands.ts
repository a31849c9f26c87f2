/**
 * The `kubectl berth` commands: read-only views of the control plane, joined with the
 * cluster's PV and pod names. Each prints a table, or the same facts as JSON or YAML.
 */
import type { Command } from 'commander';
import { ApiError, type ApiClient } from './api_client.ts';
import { printDocument, printRows, type OutputFormat } from './cli_output.ts';
import { formatBytes } from './sizes.ts';
import { BerthError } from '../util/errors.ts';
import {
  assembleChain, bindingOf, chainLines, rebuildRows, volumeRows, type ApiNexus, type ApiNode, type ApiPool, type ApiReplica, type ApiVolume,
  type ClusterFacts,
} from './kubectl_chain.ts';
import { addEventOptions, fetchEvents, printEvents, recentEventLines, type EventFlags } from './commands_events.ts';

/** `describe` ends with this many of the volume's latest events. */
const DESCRIBE_EVENTS = 10;
import { addBenchOptions, benchOptions, printBenchReport, runHostBench } from './commands_bench.ts';
import { addClusterBenchOptions, clusterBenchOptions, printClusterBenchReport, runClusterBench, type ClusterBenchFlags } from './kubectl_bench_run.ts';

export interface PluginContext {
  api(): Promise<ApiClient>;
  facts(): Promise<ClusterFacts>;
  format(): OutputFormat;
  /** The PVC namespace for `describe pvc` (-n). */
  namespace(): string;
  run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
}

const list = async <T>(api: ApiClient, path: string, key: string): Promise<T[]> => ((await api.get<Record<string, T[]>>(path))[key] ?? []);

async function volumesWithPods(api: ApiClient, facts: ClusterFacts): Promise<ApiVolume[]> {
  const volumes = await list<ApiVolume>(api, '/v1/volumes', 'volumes');
  // The list has no pod records; without the cluster's pods, ask each volume for the ones the node plugin recorded.
  if (facts.pods.size > 0) return volumes;
  return Promise.all(volumes.map((v) => api.get<ApiVolume>(`/v1/volumes/${encodeURIComponent(v.id)}`).catch(() => v)));
}

export class NotFoundError extends BerthError {
  constructor(message: string) { super('NOT_FOUND', message); }
}

/** A PVC's volume: through its PV's volume handle, else (no kubectl) the CSI name or id itself. */
async function findVolume(api: ApiClient, facts: ClusterFacts, kind: 'pvc' | 'volume', name: string, namespace: string): Promise<ApiVolume> {
  if (kind === 'pvc') {
    for (const [id, b] of facts.pvs) {
      if (b.pvcName === name && b.pvcNamespace === namespace) return api.get<ApiVolume>(`/v1/volumes/${encodeURIComponent(id)}`);
    }
    if (facts.pvs.size > 0) throw new NotFoundError(`no Berth PersistentVolume is bound to PVC ${namespace}/${name}`);
    // Without kubectl: the PVC names the CSI driver saved with each volume.
    const saved = (await list<ApiVolume>(api, '/v1/volumes', 'volumes')).find((v) => {
      const b = bindingOf(v, facts);
      return b?.pvcName === name && b.pvcNamespace === namespace;
    });
    if (saved !== undefined) return api.get<ApiVolume>(`/v1/volumes/${encodeURIComponent(saved.id)}`);
  }
  const byName = await list<ApiVolume>(api, `/v1/volumes?name=${encodeURIComponent(name)}`, 'volumes');
  if (byName[0]) return api.get<ApiVolume>(`/v1/volumes/${encodeURIComponent(byName[0].id)}`);
  try {
    return await api.get<ApiVolume>(`/v1/volumes/${encodeURIComponent(name)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new NotFoundError(kind === 'pvc'
        ? `no volume for PVC ${namespace}/${name}: without kubectl give the PV name (pvc-…) or the volume id`
        : `no volume named ${name}`);
    }
    throw err;
  }
}

export function registerPluginCommands(program: Command, ctx: PluginContext): void {
  program.command('volumes')
    .description('volumes with their PVC, namespace and pods, health and replicas')
    .action(ctx.run(async () => {
      const api = await ctx.api();
      const facts = await ctx.facts();
      const rows = volumeRows(await volumesWithPods(api, facts), facts);
      printRows(ctx.format(), { volumes: rows }, rows, [
        { header: 'NAMESPACE', value: (r) => r.namespace || '-' }, { header: 'PVC', value: (r) => r.pvc || '-' },
        { header: 'PODS', value: (r) => r.pods.join(',') || '-' }, { header: 'VOLUME', value: (r) => r.name },
        { header: 'STATUS', value: (r) => r.status }, { header: 'SIZE', value: (r) => formatBytes(r.sizeBytes) },
        { header: 'REPLICAS', value: (r) => r.replicas }, { header: 'NODE', value: (r) => r.node || '-' },
      ]);
    }));

  program.command('describe')
    .description('the chain pod → PVC → PV → volume → nexus → replicas → pools → nodes, with states')
    .argument('<kind>', 'pvc or volume')
    .argument('<name>', 'the PVC name (in -n NAMESPACE), or the volume name or id')
    .action(ctx.run(async (kind: string, name: string) => {
      if (kind !== 'pvc' && kind !== 'volume') throw new BerthError('INVALID_ARGUMENT', `describe pvc NAME or describe volume NAME, not '${kind}'`);
      const api = await ctx.api();
      const facts = await ctx.facts();
      const volume = await findVolume(api, facts, kind, name, ctx.namespace());
      const [nexuses, pools, nodes] = await Promise.all([
        list<ApiNexus>(api, '/v1/nexuses', 'nexuses'), list<ApiPool>(api, '/v1/pools', 'pools'), list<ApiNode>(api, '/v1/nodes', 'nodes'),
      ]);
      const chain = assembleChain({ volume, nexuses, pools, nodes, facts });
      // The volume's latest events; a control plane without an event log just has none to show.
      const events = (await fetchEvents(api, { volume: volume.id, limit: String(DESCRIBE_EVENTS) }).catch(() => ({ events: [] }))).events;
      if (ctx.format() === 'table') process.stdout.write([...chainLines(chain), ...recentEventLines(events)].join('\n') + '\n');
      else printDocument(ctx.format(), { ...chain, events });
    }));

  program.command('nodes')
    .description('storage nodes: zone, storage group, state, engine version')
    .action(ctx.run(async () => {
      const nodes = await list<ApiNode>(await ctx.api(), '/v1/nodes', 'nodes');
      printRows(ctx.format(), { nodes }, nodes, [
        { header: 'NODE', value: (n) => n.id }, { header: 'ZONE', value: (n) => n.zone ?? '-' },
        { header: 'STORAGE GROUP', value: (n) => n.storageGroup ?? '-' },
        { header: 'STATE', value: (n) => `${n.state?.status ?? 'unknown'}${n.cordoned ? ', cordoned' : ''}` },
        { header: 'ENGINE', value: (n) => n.state?.engineVersion ?? '-' },
      ]);
    }));

  program.command('pools')
    .description('pools: node, media, state, capacity, used and committed bytes')
    .action(ctx.run(async () => {
      const pools = await list<ApiPool>(await ctx.api(), '/v1/pools', 'pools');
      const bytes = (n: number | undefined): string => (n === undefined ? '-' : formatBytes(n));
      printRows(ctx.format(), { pools }, pools, [
        { header: 'NODE', value: (p) => p.nodeId }, { header: 'POOL', value: (p) => p.name }, { header: 'ID', value: (p) => p.id },
        { header: 'MEDIA', value: (p) => p.media ?? '-' }, { header: 'STATE', value: (p) => p.status ?? 'unknown' },
        { header: 'CAPACITY', value: (p) => bytes(p.capacityBytes) }, { header: 'USED', value: (p) => bytes(p.usedBytes) },
        { header: 'COMMITTED', value: (p) => bytes(p.committedBytes) }, { header: 'REPLICAS', value: (p) => p.replicaCount ?? 0 },
      ]);
    }));

  program.command('rebuilds')
    .description('replicas being rebuilt or waiting for a rebuild, with progress')
    .action(ctx.run(async () => {
      const rows = rebuildRows(await list<ApiReplica>(await ctx.api(), '/v1/replicas', 'replicas'));
      printRows(ctx.format(), { rebuilds: rows }, rows, [
        { header: 'VOLUME', value: (r) => r.volumeId }, { header: 'REPLICA', value: (r) => r.replicaId },
        { header: 'NODE', value: (r) => r.nodeId }, { header: 'POOL', value: (r) => r.poolId },
        { header: 'STATE', value: (r) => r.state }, { header: 'PROGRESS', value: (r) => r.progress || '-' },
      ]);
    }));

  addEventOptions(program.command('events')
    .description('what the control plane did and why: nodes offline/lost/back, replicas retired, rebuilds, placement refusals, snapshots'))
    .action(ctx.run(async (f: EventFlags) => {
      printEvents(ctx.format(), await fetchEvents(await ctx.api(), f));
    }));

  addClusterBenchOptions(addBenchOptions(program.command('bench')
    .description('fio and pgbench on Berth and on local disk side by side, with ratios: in the cluster (--class: Jobs on a PVC and a hostPath) '
      + 'or from this host (--url, --pgbench-dir)')))
    .addHelpText('after', `
In the cluster (Jobs in -n NAMESPACE; everything the bench creates is removed at the end, also on Ctrl-C):
  kubectl berth bench --class berth-single --quick
  kubectl berth -o yaml bench --class berth-single --image registry.example/berth-bench:dev --node worker-1
From this host (a volume exported to it): kubectl berth bench --url iscsi://HOST:PORT/IQN/LUN --overwrite`)
    .action(ctx.run(async (f: ClusterBenchFlags, cmd: Command) => {
      const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };
      if (f.class !== undefined) {
        const defaulted = (key: string): boolean => cmd.getOptionValueSource(key) === 'default';
        printClusterBenchReport(ctx.format(), await runClusterBench(clusterBenchOptions(f, ctx.namespace(), defaulted, log)));
        return;
      }
      if (f.url === undefined && f.pgbenchDir === undefined) {
        throw new BerthError('INVALID_ARGUMENT', 'give --class STORAGECLASS (Jobs in the cluster), or --url iscsi://HOST:PORT/IQN/LUN --overwrite '
          + 'and/or --pgbench-dir DIR (from this host; docs/cli.md "berth bench")');
      }
      printBenchReport(ctx.format(), await runHostBench(benchOptions(f, log)));
    }));
}
