import type { Command } from 'commander';
import type { CliContext } from './cli_context.ts';
import { volumePath } from './api_client.ts';
import { parseVolumeRef, printObject, printRows } from './cli_output.ts';

interface LocalAttachDoc { pool: string; volume: string; path: string; errors: Record<string, number> }

/** `berth local …`: exports served to this node over FUSE by the engine (docs/local-attach.md). */
export function registerLocalCommands(program: Command, ctx: CliContext): void {
  const local = program.command('local').description('serve exported volumes to this node as FUSE files (engine --local-attach-dir)');

  local.command('attach <pool/volume>').description('serve an exported volume as a file; prints its path (put a loop device on it)')
    .action(ctx.run(async (ref: string) => {
      const doc = await ctx.api().post<LocalAttachDoc>(`/v1/exports/${volumePath(parseVolumeRef(ref))}/local-attach`, undefined);
      printObject(ctx.format(), doc, [['path', doc.path]]);
    }));

  local.command('detach <pool/volume>').description('unmount the file (detach the loop device on it first)')
    .action(ctx.run(async (ref: string) => {
      await ctx.api().delete(`/v1/exports/${volumePath(parseVolumeRef(ref))}/local-attach`);
      ctx.done(`local attach of ${ref} removed`);
    }));

  local.command('list').alias('ls').description('list local attaches').action(ctx.run(async () => {
    const doc = await ctx.api().get<{ localAttaches: LocalAttachDoc[] }>('/v1/local-attaches');
    printRows(ctx.format(), doc, doc.localAttaches, [
      { header: 'VOLUME', value: (l) => `${l.pool}/${l.volume}` },
      { header: 'PATH', value: (l) => l.path },
      { header: 'ERRORS', value: (l) => Object.entries(l.errors).map(([errno, n]) => `errno ${errno}: ${n}`).join(', ') || '-' },
    ]);
  }));
}
