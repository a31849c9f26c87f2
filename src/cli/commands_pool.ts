import type { Command } from 'commander';
import type { CliContext } from './cli_context.ts';
import { formatBytes, parseSize } from './sizes.ts';
import { printObject, printRows } from './cli_output.ts';
import { BerthError } from '../util/errors.ts';

export interface PoolDoc {
  name: string; path: string; state: string; reason?: string; uuid?: string; formatVersion?: number;
  extentSize?: number; capacityBytes?: number; usedBytes?: number; freeBytes?: number; volumeCount?: number;
  thinProvisionedBytes?: number; condition?: string; backedBytes?: number; hostAvailableBytes?: number;
}

interface VerifyDoc {
  ownedExtents: number; sharedExtents: number; partialExtents: number; reservedExtents: number; freeExtents: number; problems: string[];
}

const sz = (n: number | undefined): string => (n === undefined ? '-' : formatBytes(n));

export function registerPoolCommands(program: Command, ctx: CliContext): void {
  const pool = program.command('pool').description('create, import, inspect and destroy pools');

  pool.command('create <name>')
    .description('create a pool on a file (sparse, created when missing) or a block device')
    .option('--path <path>', 'absolute path of a pool file under the engine\'s --pool-root, or a block device under /dev (default: DATA_DIR/pools/NAME.pool on the engine)')
    .option('--size <size>', 'size of a new pool file, e.g. 16G')
    .option('--extent-size <size>', 'allocation unit, e.g. 4M')
    .option('--thick', 'allocate every block of a pool file on the host now (no sparse file)')
    .option('--force', 'format a file or device that is not empty or holds a filesystem, partition table, LVM or swap signature (destroys it)')
    .action(ctx.run(async (name: string, o: { path?: string; size?: string; extentSize?: string; thick?: boolean; force?: boolean }) => {
      const body = {
        name,
        ...(o.path ? { path: o.path } : {}),
        ...(o.size ? { sizeBytes: parseSize(o.size) } : {}),
        ...(o.extentSize ? { extentSize: parseSize(o.extentSize) } : {}),
        ...(o.thick ? { thick: true } : {}),
        ...(o.force ? { force: true } : {}),
      };
      describe(ctx, await ctx.api().post<PoolDoc>('/v1/pools', body));
    }));

  pool.command('import <path>')
    .description('import an existing pool file or device')
    .action(ctx.run(async (path: string) => describe(ctx, await ctx.api().post<PoolDoc>('/v1/pools/import', { path }))));

  pool.command('list').alias('ls')
    .description('list pools')
    .action(ctx.run(async () => {
      const doc = await ctx.api().get<{ pools: PoolDoc[] }>('/v1/pools');
      printRows(ctx.format(), doc, doc.pools, [
        { header: 'NAME', value: (p) => p.name },
        { header: 'STATE', value: (p) => p.state },
        { header: 'CAPACITY', value: (p) => sz(p.capacityBytes) },
        { header: 'USED', value: (p) => sz(p.usedBytes) },
        { header: 'FREE', value: (p) => sz(p.freeBytes) },
        { header: 'CONDITION', value: (p) => p.condition ?? '-' },
        { header: 'BACKED', value: (p) => sz(p.backedBytes) },
        { header: 'VOLUMES', value: (p) => p.volumeCount ?? '-' },
        { header: 'PATH', value: (p) => p.path },
      ]);
    }));

  pool.command('describe <name>')
    .description('show one pool')
    .action(ctx.run(async (name: string) => describe(ctx, await ctx.api().get<PoolDoc>(`/v1/pools/${encodeURIComponent(name)}`))));

  pool.command('verify <name>')
    .description('check the pool\'s metadata (every reference count equals the references that exist); exits non-zero on any problem')
    .option('--read-free', 'also read every free extent for zeros (on a quiet pool: writes racing it may be reported)')
    .action(ctx.run(async (name: string, o: { readFree?: boolean }) => {
      const r = await ctx.api().get<VerifyDoc>(`/v1/pools/${encodeURIComponent(name)}/verify${o.readFree ? '?readFree=true' : ''}`);
      printObject(ctx.format(), r, [
        ['referenced extents', r.ownedExtents], ['shared extents', r.sharedExtents], ['partial extents', r.partialExtents],
        ['reserved extents', r.reservedExtents], ['free extents', r.freeExtents],
        ['problems', r.problems.length === 0 ? 'none' : r.problems.join('\n')],
      ]);
      if (r.problems.length > 0) throw new BerthError('POOL_CORRUPT', `pool ${name}: ${r.problems.length} problem(s) found`);
    }));

  pool.command('destroy <name>')
    .description('destroy a pool and its data (refused while it has volumes); a faulted pool is only forgotten')
    .action(ctx.run(async (name: string) => {
      await ctx.api().delete(`/v1/pools/${encodeURIComponent(name)}`);
      ctx.done(`pool ${name} destroyed`);
    }));
}

function describe(ctx: CliContext, p: PoolDoc): void {
  const fields: [string, string | number][] = [['name', p.name], ['state', p.state], ['path', p.path]];
  if (p.reason) fields.push(['reason', p.reason]);
  if (p.state === 'online') {
    fields.push(
      ['uuid', p.uuid ?? '-'], ['format version', p.formatVersion ?? '-'], ['extent size', sz(p.extentSize)],
      ['capacity', sz(p.capacityBytes)], ['used', sz(p.usedBytes)], ['free', sz(p.freeBytes)],
      ['volumes', p.volumeCount ?? '-'], ['thin provisioned', sz(p.thinProvisionedBytes)],
      ['condition', p.condition ?? '-'], ['backed on host', sz(p.backedBytes)], ['host free', sz(p.hostAvailableBytes)],
    );
  }
  printObject(ctx.format(), p, fields);
}
