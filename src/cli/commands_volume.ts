import type { Command } from 'commander';
import { BerthError } from '../util/errors.ts';
import type { CliContext } from './cli_context.ts';
import { formatBytes, parseSize } from './sizes.ts';
import { parseVolumeRef, printObject, printRows } from './cli_output.ts';
import type { PoolDoc } from './commands_pool.ts';

interface VolumeDoc {
  pool: string; name: string; uuid: string; sizeBytes: number; blockSize: number; thin: boolean;
  allocatedBytes: number; createdAt: unknown; state: string;
  export: { targetIqn: string; lun: number; url: string } | null;
}

interface CreateOptions {
  size?: string; blockSize?: string; thin?: boolean; thick?: boolean; fromSnapshot?: string; fromVolume?: string;
}

const columns = [
  { header: 'POOL', value: (v: VolumeDoc) => v.pool },
  { header: 'NAME', value: (v: VolumeDoc) => v.name },
  { header: 'SIZE', value: (v: VolumeDoc) => formatBytes(v.sizeBytes) },
  { header: 'ALLOCATED', value: (v: VolumeDoc) => formatBytes(v.allocatedBytes) },
  { header: 'TYPE', value: (v: VolumeDoc) => (v.thin ? 'thin' : 'thick') },
  { header: 'BLOCK', value: (v: VolumeDoc) => v.blockSize },
  { header: 'STATE', value: (v: VolumeDoc) => v.state },
  { header: 'EXPORT', value: (v: VolumeDoc) => (v.export ? v.export.url : '-') },
];

export function registerVolumeCommands(program: Command, ctx: CliContext): void {
  const volume = program.command('volume').description('create, inspect, resize and delete volumes');

  volume.command('create <pool/volume>')
    .description('create a volume, blank or as a copy of a snapshot or of another volume in the same pool')
    .option('--size <size>', 'size, e.g. 10G, 512M, 64T (a copy defaults to its source\'s size)')
    .option('--block-size <bytes>', 'logical block size: 512 or 4096')
    .option('--thin', 'allocate on first write (thin provisioning)')
    .option('--thick', 'allocate all space now')
    .option('--from-snapshot <snapshot>', 'fill the new volume with this snapshot\'s data')
    .option('--from-volume <volume>', 'fill the new volume with a copy of this volume as it is now')
    .action(ctx.run(async (ref: string, o: CreateOptions) => {
      const { pool, volume: name } = parseVolumeRef(ref);
      if (o.thin && o.thick) throw new BerthError('INVALID_ARGUMENT', 'choose --thin or --thick, not both');
      if (o.fromSnapshot !== undefined && o.fromVolume !== undefined) {
        throw new BerthError('INVALID_ARGUMENT', 'choose --from-snapshot or --from-volume, not both');
      }
      const copy = o.fromSnapshot !== undefined || o.fromVolume !== undefined;
      if (o.size === undefined && !copy) throw new BerthError('INVALID_ARGUMENT', '--size is required for a blank volume');
      const body: Record<string, unknown> = { name };
      if (o.size !== undefined) body.sizeBytes = parseSize(o.size);
      if (o.blockSize !== undefined) body.blockSize = Number(o.blockSize);
      if (o.thin || o.thick) body.thin = Boolean(o.thin);
      if (o.fromSnapshot !== undefined) body.fromSnapshot = o.fromSnapshot;
      if (o.fromVolume !== undefined) body.fromVolume = o.fromVolume;
      describe(ctx, await ctx.api().post<VolumeDoc>(`/v1/pools/${encodeURIComponent(pool)}/volumes`, body));
    }));

  volume.command('list [pool]').alias('ls')
    .description('list the volumes of a pool, or of every online pool')
    .action(ctx.run(async (pool: string | undefined) => {
      const api = ctx.api();
      let pools = [pool ?? ''];
      if (!pool) {
        const doc = await api.get<{ pools: PoolDoc[] }>('/v1/pools');
        pools = doc.pools.filter((p) => p.state === 'online').map((p) => p.name);
      }
      const volumes: VolumeDoc[] = [];
      for (const p of pools) {
        volumes.push(...(await api.get<{ volumes: VolumeDoc[] }>(`/v1/pools/${encodeURIComponent(p)}/volumes`)).volumes);
      }
      printRows(ctx.format(), { volumes }, volumes, columns);
    }));

  volume.command('describe <pool/volume>')
    .description('show one volume')
    .action(ctx.run(async (ref: string) => {
      describe(ctx, await ctx.api().get<VolumeDoc>(volumeUrl(parseVolumeRef(ref))));
    }));

  volume.command('resize <pool/volume> <size>')
    .description('grow a volume online; initiators see the new capacity')
    .action(ctx.run(async (ref: string, size: string) => {
      const r = parseVolumeRef(ref);
      describe(ctx, await ctx.api().patch<VolumeDoc>(volumeUrl(r), { sizeBytes: parseSize(size) }));
    }));

  volume.command('delete <pool/volume>').alias('rm')
    .description('delete a volume and its data (refused while exported)')
    .action(ctx.run(async (ref: string) => {
      await ctx.api().delete(volumeUrl(parseVolumeRef(ref)));
      ctx.done(`volume ${ref} deleted`);
    }));
}

function volumeUrl(r: { pool: string; volume: string }): string {
  return `/v1/pools/${encodeURIComponent(r.pool)}/volumes/${encodeURIComponent(r.volume)}`;
}

function describe(ctx: CliContext, v: VolumeDoc): void {
  printObject(ctx.format(), v, [
    ['pool', v.pool], ['name', v.name], ['uuid', v.uuid], ['size', `${formatBytes(v.sizeBytes)} (${v.sizeBytes} bytes)`],
    ['allocated', formatBytes(v.allocatedBytes)], ['type', v.thin ? 'thin' : 'thick'], ['block size', v.blockSize],
    ['state', v.state], ['created', String(v.createdAt)],
    ['export', v.export ? `${v.export.url} (target ${v.export.targetIqn}, LUN ${v.export.lun})` : '-'],
  ]);
}
