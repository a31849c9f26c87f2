import type { Command } from 'commander';
import { BerthError } from '../util/errors.ts';
import type { CliContext } from './cli_context.ts';
import { parseSize } from './sizes.ts';
import { printRows } from './cli_output.ts';
import { nexusColumns, parseReplicaRef, printNexus, type NexusDoc } from './nexus_docs.ts';

const nexusUrl = (name: string): string => `/v1/nexus/${encodeURIComponent(name)}`;
const collect = (v: string, prev: string[]): string[] => [...prev, v];

function throttleMode(text: string): string {
  if (text !== 'adaptive' && text !== 'fixed') throw new BerthError('INVALID_ARGUMENT', `a throttle mode is adaptive or fixed, got '${text}'`);
  return text;
}

function integer(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new BerthError('INVALID_ARGUMENT', `${what} must be a whole number, got '${text}'`);
  return n;
}

/** `berth nexus …`: replicated volumes — a nexus over 1–5 replica volumes on chosen engines. */
export function registerNexusCommands(program: Command, ctx: CliContext): void {
  const nexus = program.command('nexus').description('replicated volumes: create, inspect, move and destroy nexuses');

  nexus.command('create <name>')
    .description('create a nexus over existing replica volumes (each NODE/POOL/VOLUME, NODE = local or host:replicaPort)')
    .requiredOption('-r, --replica <node/pool/volume>', 'a replica (repeat for each, 1 to 5)', collect, [])
    .option('--size <size>', 'expected size of every replica, e.g. 10G')
    .option('--block-size <bytes>', 'expected block size: 512 or 4096')
    .option('--generation <n>', 'generation of this incarnation (default: above every replica\'s)')
    .option('--require-fenced <n>', 'replicas that must accept the generation (default: all)')
    .option('--uuid <uuid>', 'the volume identity to keep (when re-creating a moved nexus)')
    .option('--throttle <rate>', 'rebuild byte cap per second, e.g. 200M')
    .option('--throttle-mode <mode>', 'adaptive (rebuilds yield to foreground I/O) or fixed (the cap only); default: the engine\'s')
    .option('--export', 'also export it as an iSCSI LUN')
    .action(ctx.run(async (name: string, o: Record<string, string | string[] | boolean | undefined>) => {
      const body: Record<string, unknown> = { name, replicas: (o.replica as string[]).map(parseReplicaRef) };
      if (o.size) body.sizeBytes = parseSize(o.size as string);
      if (o.blockSize) body.blockSize = integer(o.blockSize as string, '--block-size');
      if (o.generation) body.generation = integer(o.generation as string, '--generation');
      if (o.requireFenced) body.requireFenced = integer(o.requireFenced as string, '--require-fenced');
      if (o.uuid) body.uuid = o.uuid;
      if (o.throttle) body.rebuildThrottleBytesPerSec = parseSize(o.throttle as string);
      if (o.throttleMode) body.rebuildThrottleMode = throttleMode(o.throttleMode as string);
      const api = ctx.api();
      await api.post('/v1/nexus', body);
      if (o.export) await api.post(`${nexusUrl(name)}/export`, {});
      printNexus(ctx.format(), await api.get<NexusDoc>(nexusUrl(name)));
    }));

  nexus.command('list').alias('ls')
    .description('list the nexuses of the engine')
    .action(ctx.run(async () => {
      const doc = await ctx.api().get<{ nexuses: NexusDoc[] }>('/v1/nexus');
      printRows(ctx.format(), doc, doc.nexuses, nexusColumns);
    }));

  nexus.command('describe <name>')
    .description('show a nexus with its replicas, their states and rebuild progress')
    .action(ctx.run(async (name: string) => printNexus(ctx.format(), await ctx.api().get<NexusDoc>(nexusUrl(name)))));

  nexus.command('destroy <name>')
    .description('stop serving the nexus (unexport it first); replica volumes keep their data')
    .action(ctx.run(async (name: string) => {
      await ctx.api().delete(nexusUrl(name));
      ctx.done(`nexus ${name} destroyed`);
    }));

  nexus.command('export <name>')
    .description('export the nexus as an iSCSI LUN (target iqn.2026-11.io.berth:nexus.NAME)')
    .action(ctx.run(async (name: string) => {
      await ctx.api().post(`${nexusUrl(name)}/export`, {});
      printNexus(ctx.format(), await ctx.api().get<NexusDoc>(nexusUrl(name)));
    }));

  nexus.command('unexport <name>')
    .description('remove the nexus\'s iSCSI export')
    .action(ctx.run(async (name: string) => {
      await ctx.api().delete(`${nexusUrl(name)}/export`);
      ctx.done(`nexus ${name} unexported`);
    }));

  nexus.command('throttle <name> [rate]')
    .description('set the rebuild byte cap per second (0 = none) and/or, with --mode, whether rebuilds yield to foreground I/O')
    .option('--mode <mode>', 'adaptive (yield to foreground I/O, the default) or fixed (the cap only)')
    .action(ctx.run(async (name: string, rate: string | undefined, o: { mode?: string }) => {
      const body: Record<string, unknown> = {};
      if (rate !== undefined) body.rebuildThrottleBytesPerSec = rate === '0' ? 0 : parseSize(rate);
      if (o.mode !== undefined) body.rebuildThrottleMode = throttleMode(o.mode);
      if (Object.keys(body).length === 0) throw new BerthError('INVALID_ARGUMENT', 'give a rate, --mode, or both');
      printNexus(ctx.format(), await ctx.api().patch<NexusDoc>(nexusUrl(name), body));
    }));

  nexus.command('move <name>')
    .description('move the nexus to the engine at --to: destroy it here, re-create it there with generation + 1')
    .requiredOption('--to <url>', 'API URL of the engine that takes the nexus')
    .action(ctx.run(async (name: string, o: { to: string }) => {
      const from = ctx.api();
      const to = ctx.client(o.to);
      const here = (await from.get<{ endpoint: string }>('/v1/replica-service')).endpoint;
      const old = await from.get<NexusDoc>(nexusUrl(name));
      if (old.export) await from.delete(`${nexusUrl(name)}/export`);
      await from.delete(nexusUrl(name));
      // Replicas not in sync stay stale at the new home; every in-sync one must take the new generation.
      const replicas = old.replicas.map((r) => ({
        node: r.local ? here : r.node, pool: r.pool, volume: r.volume, state: r.state === 'online' ? 'online' : 'stale',
      }));
      await to.post('/v1/nexus', {
        name, uuid: old.uuid, generation: old.generation + 1, replicas,
        requireFenced: replicas.filter((r) => r.state === 'online').length, rebuildThrottleBytesPerSec: old.rebuildThrottleBytesPerSec,
        ...(old.rebuildThrottleMode ? { rebuildThrottleMode: old.rebuildThrottleMode } : {}),
      });
      if (old.export) await to.post(`${nexusUrl(name)}/export`, {});
      printNexus(ctx.format(), await to.get<NexusDoc>(nexusUrl(name)));
    }));
}
