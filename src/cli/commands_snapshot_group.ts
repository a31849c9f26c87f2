import type { Command } from 'commander';
import type { ApiClient } from './api_client.ts';
import type { CliContext } from './cli_context.ts';
import { formatBytes } from './sizes.ts';
import { parseVolumeRef, printObject, printRows } from './cli_output.ts';

interface RangePage { sizeBytes: number; blockSize: number; ranges: { offset: number; length: number }[]; nextOffset: number | null }
interface MemberDoc { id: string; volumeId: string; replicaSnapshots: { replicaId: string; poolId: string }[] }
interface GroupDoc { id: string; name: string; createdAtMs: number; volumeIds: string[]; snapshots: MemberDoc[] }

const seg = encodeURIComponent;
const CONTROL_PLANE_DEFAULT = process.env.BERTH_CONTROL_PLANE ?? 'http://127.0.0.1:9600';

/** Follows nextOffset until the last page: `path` already carries its query, if any. */
async function allRanges(api: ApiClient, path: string): Promise<RangePage> {
  const sep = path.includes('?') ? '&' : '?';
  const first = await api.get<RangePage>(path);
  const ranges = [...first.ranges];
  for (let next = first.nextOffset; next !== null;) {
    const page = await api.get<RangePage>(`${path}${sep}startingOffset=${next}`);
    ranges.push(...page.ranges);
    next = page.nextOffset;
  }
  return { ...first, ranges, nextOffset: null };
}

/**
 * `berth snapshot blocks` (changed-block tracking) and `berth snapshot group …` (group
 * snapshots, a control-plane resource: its own --control-plane flag, as `berth events`).
 */
export function registerSnapshotGroupCommands(snapshot: Command, ctx: CliContext): void {
  snapshot.command('blocks <snapshot>')
    .description('changed-block tracking: the byte ranges a snapshot holds data for, or with --base those that differ from an older snapshot of the same volume. SNAPSHOT is POOL/SNAP on the engine, or a control-plane snapshot id with --control-plane')
    .option('--base <snapshot>', 'older snapshot of the same volume (its name in the pool, or its id with --control-plane)')
    .option('--control-plane <url>', 'ask the control plane (any replica holding both snapshots answers)')
    .action(ctx.run(async (ref: string, f: { base?: string; controlPlane?: string }) => {
      const q = f.base === undefined ? '' : `?base=${seg(f.base)}`;
      let doc: RangePage;
      if (f.controlPlane !== undefined) {
        doc = await allRanges(ctx.client(f.controlPlane), `/v1/snapshots/${seg(ref)}/blocks${q}`);
      } else {
        const { pool, volume: name } = parseVolumeRef(ref);
        doc = await allRanges(ctx.api(), `/v1/pools/${seg(pool)}/snapshots/${seg(name)}/${f.base === undefined ? 'allocated' : 'delta'}${q}`);
      }
      const total = doc.ranges.reduce((s, r) => s + r.length, 0);
      if (ctx.format() === 'table') process.stdout.write(`${doc.ranges.length} range(s), ${formatBytes(total)} of ${formatBytes(doc.sizeBytes)}\n`);
      printRows(ctx.format(), { ...doc, totalBytes: total }, doc.ranges, [
        { header: 'OFFSET', value: (r) => String(r.offset) },
        { header: 'LENGTH', value: (r) => String(r.length) },
      ]);
    }));

  const group = snapshot.command('group').description('crash-consistent snapshots of several volumes at once (control plane)');
  // exitOverride: errors of these third-level commands print through main's one path too.
  const cp = (c: Command): Command => c.option('--control-plane <url>', 'control plane API URL', CONTROL_PLANE_DEFAULT).exitOverride();

  cp(group.command('create <name> <volume-ids...>'))
    .description('snapshot the volumes at one point: one write barrier across their nexuses (idempotent by name)')
    .action(ctx.run(async (name: string, volumeIds: string[], f: { controlPlane: string }) => {
      describeGroup(ctx, await ctx.client(f.controlPlane).post<GroupDoc>('/v1/snapshot-groups', { name, volumeIds }));
    }));

  cp(group.command('list').alias('ls'))
    .description('list group snapshots')
    .action(ctx.run(async (f: { controlPlane: string }) => {
      const doc = await ctx.client(f.controlPlane).get<{ groups: GroupDoc[] }>('/v1/snapshot-groups');
      printRows(ctx.format(), doc, doc.groups, [
        { header: 'ID', value: (g) => g.id },
        { header: 'NAME', value: (g) => g.name },
        { header: 'VOLUMES', value: (g) => String(g.volumeIds.length) },
        { header: 'CREATED', value: (g) => new Date(g.createdAtMs).toISOString() },
      ]);
    }));

  cp(group.command('describe <id>'))
    .description('show a group snapshot and its member snapshots')
    .action(ctx.run(async (id: string, f: { controlPlane: string }) => {
      describeGroup(ctx, await ctx.client(f.controlPlane).get<GroupDoc>(`/v1/snapshot-groups/${seg(id)}`));
    }));

  cp(group.command('delete <id>').alias('rm'))
    .description('delete a group snapshot and its member snapshots')
    .action(ctx.run(async (id: string, f: { controlPlane: string }) => {
      await ctx.client(f.controlPlane).delete(`/v1/snapshot-groups/${seg(id)}`);
      ctx.done(`group snapshot ${id} deleted`);
    }));
}

function describeGroup(ctx: CliContext, g: GroupDoc): void {
  printObject(ctx.format(), g, [
    ['id', g.id], ['name', g.name], ['created', new Date(g.createdAtMs).toISOString()],
    ...g.snapshots.map((s): [string, string] => [`volume ${s.volumeId}`, `${s.id} (${s.replicaSnapshots.length} replica cop${s.replicaSnapshots.length === 1 ? 'y' : 'ies'})`]),
  ]);
}
