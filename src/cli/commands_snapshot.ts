import type { Command } from 'commander';
import type { CliContext } from './cli_context.ts';
import { formatBytes } from './sizes.ts';
import { parseVolumeRef, printObject, printRows } from './cli_output.ts';
import type { PoolDoc } from './commands_pool.ts';
import { registerSnapshotGroupCommands } from './commands_snapshot_group.ts';

interface SnapshotDoc {
  pool: string; name: string; uuid: string; sourceVolume: string | null; sourceVolumeUuid: string | null;
  sizeBytes: number; blockSize: number; allocatedBytes: number; createdAt: string; state: string;
  /** Bytes only this snapshot holds (absent from engines before pool format 4). */
  exclusiveBytes?: number;
}

const columns = [
  { header: 'POOL', value: (s: SnapshotDoc) => s.pool },
  { header: 'NAME', value: (s: SnapshotDoc) => s.name },
  { header: 'VOLUME', value: (s: SnapshotDoc) => s.sourceVolume ?? '(deleted)' },
  { header: 'SIZE', value: (s: SnapshotDoc) => formatBytes(s.sizeBytes) },
  { header: 'ALLOCATED', value: (s: SnapshotDoc) => formatBytes(s.allocatedBytes) },
  { header: 'EXCLUSIVE', value: (s: SnapshotDoc) => (s.exclusiveBytes === undefined ? '-' : formatBytes(s.exclusiveBytes)) },
  { header: 'STATE', value: (s: SnapshotDoc) => s.state },
  { header: 'CREATED', value: (s: SnapshotDoc) => s.createdAt },
];

const seg = encodeURIComponent;

/** `berth snapshot create|list|describe|delete`; restoring is `berth volume create --from-snapshot`. */
export function registerSnapshotCommands(program: Command, ctx: CliContext): void {
  const snapshot = program.command('snapshot').description('take, list and delete read-only snapshots of volumes');

  snapshot.command('create <pool/volume> <snapshot>')
    .description('snapshot a volume (a full copy of its allocated data; its writes wait during the copy)')
    .action(ctx.run(async (ref: string, name: string) => {
      const { pool, volume } = parseVolumeRef(ref);
      describe(ctx, await ctx.api().post<SnapshotDoc>(`/v1/pools/${seg(pool)}/volumes/${seg(volume)}/snapshots`, { name }));
    }));

  snapshot.command('list [pool-or-volume]').alias('ls')
    .description('list snapshots: of one volume (pool/volume), of a pool, or of every online pool')
    .action(ctx.run(async (ref: string | undefined) => {
      const api = ctx.api();
      const snapshots: SnapshotDoc[] = [];
      if (ref !== undefined && ref.includes('/')) {
        const { pool, volume } = parseVolumeRef(ref);
        snapshots.push(...(await api.get<{ snapshots: SnapshotDoc[] }>(`/v1/pools/${seg(pool)}/volumes/${seg(volume)}/snapshots`)).snapshots);
      } else {
        let pools = [ref ?? ''];
        if (ref === undefined) {
          const doc = await api.get<{ pools: PoolDoc[] }>('/v1/pools');
          pools = doc.pools.filter((p) => p.state === 'online').map((p) => p.name);
        }
        for (const p of pools) snapshots.push(...(await api.get<{ snapshots: SnapshotDoc[] }>(`/v1/pools/${seg(p)}/snapshots`)).snapshots);
      }
      printRows(ctx.format(), { snapshots }, snapshots, columns);
    }));

  snapshot.command('describe <pool/snapshot>')
    .description('show one snapshot')
    .action(ctx.run(async (ref: string) => {
      const { pool, volume: name } = parseVolumeRef(ref);
      describe(ctx, await ctx.api().get<SnapshotDoc>(`/v1/pools/${seg(pool)}/snapshots/${seg(name)}`));
    }));

  snapshot.command('delete <pool/snapshot>').alias('rm')
    .description('delete a snapshot and erase its data (volumes cloned from it are unaffected)')
    .action(ctx.run(async (ref: string) => {
      const { pool, volume: name } = parseVolumeRef(ref);
      await ctx.api().delete(`/v1/pools/${seg(pool)}/snapshots/${seg(name)}`);
      ctx.done(`snapshot ${ref} deleted`);
    }));

  registerSnapshotGroupCommands(snapshot, ctx);
}

function describe(ctx: CliContext, s: SnapshotDoc): void {
  printObject(ctx.format(), s, [
    ['pool', s.pool], ['name', s.name], ['uuid', s.uuid], ['volume', s.sourceVolume ?? '(deleted)'],
    ['size', `${formatBytes(s.sizeBytes)} (${s.sizeBytes} bytes)`], ['allocated', formatBytes(s.allocatedBytes)],
    ['exclusive', s.exclusiveBytes === undefined ? '-' : formatBytes(s.exclusiveBytes)], ['block size', s.blockSize], ['state', s.state], ['created', s.createdAt],
  ]);
}
