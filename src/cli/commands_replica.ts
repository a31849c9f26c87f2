import type { Command } from 'commander';
import type { CliContext } from './cli_context.ts';
import { printRows } from './cli_output.ts';
import { parseReplicaRef, printNexus, replicaColumns, type NexusDoc, type ReplicaDoc } from './nexus_docs.ts';

const replicasUrl = (nexus: string): string => `/v1/nexus/${encodeURIComponent(nexus)}/replicas`;

/** `berth replica …`: the replicas of one nexus. */
export function registerReplicaCommands(program: Command, ctx: CliContext): void {
  const replica = program.command('replica').description('add, remove and list the replicas of a nexus');

  replica.command('list <nexus>').alias('ls')
    .description('list the replicas of a nexus with state and rebuild progress')
    .action(ctx.run(async (nexus: string) => {
      const doc = await ctx.api().get<{ replicas: ReplicaDoc[] }>(replicasUrl(nexus));
      printRows(ctx.format(), doc, doc.replicas, replicaColumns);
    }));

  replica.command('add <nexus> <node/pool/volume>')
    .description('add a replica (an existing volume) or bring one back; starts its rebuild')
    .option('--full', 'copy every region even if the nexus knows what the replica missed')
    .action(ctx.run(async (nexus: string, ref: string, o: { full?: boolean }) => {
      const body = { ...parseReplicaRef(ref), ...(o.full ? { full: true } : {}) };
      printNexus(ctx.format(), await ctx.api().post<NexusDoc>(replicasUrl(nexus), body));
    }));

  replica.command('remove <nexus> <node/pool/volume>').alias('rm')
    .description('take a replica out of the nexus; its volume keeps its data')
    .action(ctx.run(async (nexus: string, ref: string) => {
      const api = ctx.api();
      const r = parseReplicaRef(ref);
      if (r.node === 'local') r.node = (await api.get<{ endpoint: string }>('/v1/replica-service')).endpoint;
      const name = `${r.node}/${r.pool}/${r.volume}`;
      const doc = await api.request<NexusDoc>('DELETE', `${replicasUrl(nexus)}/${encodeURIComponent(name)}`);
      printNexus(ctx.format(), doc);
    }));
}
