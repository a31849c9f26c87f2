/**
 * `berth events` and `kubectl berth events`: the control plane's event log (GET
 * /v1/events, docs/api.md "Events"), newest first, as a table, JSON or YAML. The query
 * and the rows are built by pure functions, tested without a control plane.
 */
import type { Command } from 'commander';
import type { ApiClient } from './api_client.ts';
import { printRows, type OutputFormat } from './cli_output.ts';
import { BerthError } from '../util/errors.ts';

export interface ApiEvent {
  id: string; time: string; atMs: number; type: string; severity: string;
  object: { kind: string; id: string; name?: string }; reason: string; message: string; involved: Record<string, string>;
}

export interface EventFlags {
  volume?: string; node?: string; pool?: string; snapshot?: string; kind?: string; type?: string; since?: string; limit?: string; all?: boolean;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (90s, 10m, 2h, 1d), or what the API takes (ISO 8601, epoch ms). */
export function sinceValue(text: string, nowMs: number): string {
  const m = /^(\d{1,9})([smhd])$/.exec(text);
  return m === null ? text : String(nowMs - Number(m[1]) * UNITS[m[2]]);
}

/** The query string for GET /v1/events; the control plane checks the values. */
export function eventQuery(f: EventFlags, nowMs: number, before?: string): string {
  const q = new URLSearchParams();
  for (const k of ['volume', 'node', 'pool', 'snapshot', 'kind', 'type', 'limit'] as const) {
    const v = f[k];
    if (v !== undefined) q.set(k, v);
  }
  if (f.since !== undefined) q.set('since', sinceValue(f.since, nowMs));
  if (before !== undefined) q.set('before', before);
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

export function addEventOptions(cmd: Command): Command {
  return cmd
    .option('--volume <id>', 'only events involving this volume')
    .option('--node <id>', 'only events involving this node')
    .option('--pool <id>', 'only events involving this pool')
    .option('--snapshot <id>', 'only events involving this snapshot')
    .option('--kind <kind>', 'only events about a node, pool, volume or snapshot')
    .option('--type <types>', 'only these types, comma-separated (NodeOffline,RebuildStarted,…)')
    .option('--since <when>', 'only newer ones: a duration (10m, 2h, 1d), an ISO 8601 time or epoch ms')
    .option('--limit <n>', 'at most this many (default 100)')
    .option('--all', 'every matching event, following the pages');
}

/** Reads one page, or with --all every page. */
export async function fetchEvents(api: ApiClient, f: EventFlags, nowMs = Date.now()): Promise<{ events: ApiEvent[] }> {
  const events: ApiEvent[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await api.get<{ events: ApiEvent[]; next?: string }>(`/v1/events${eventQuery(f, nowMs, before)}`)
      .catch((err: unknown) => {
        if ((err as { status?: number }).status === 404 && (err as { code?: string }).code === 'ROUTE_NOT_FOUND') {
          throw new BerthError('NOT_AVAILABLE', 'this control plane keeps no event log (no /v1/events); is --control-plane a control plane and not an engine?');
        }
        throw err;
      });
    events.push(...page.events);
    if (f.all !== true || page.next === undefined) return { events };
    before = page.next;
  }
}

/** The tail of `describe`: a volume's latest events, newest first, one line each. */
export function recentEventLines(events: readonly ApiEvent[]): string[] {
  if (events.length === 0) return ['events    (none recorded)'];
  return ['events', ...events.map((e) => `  ${e.time}  ${e.type}${e.severity === 'warning' ? ' (!)' : ''}  ${e.reason}: ${e.message}`)];
}

const objectText = (e: ApiEvent): string => `${e.object.kind}/${e.object.name ?? e.object.id}`;

export function printEvents(format: OutputFormat, doc: { events: ApiEvent[] }): void {
  printRows(format, doc, doc.events, [
    { header: 'TIME', value: (e) => e.time },
    { header: 'TYPE', value: (e) => `${e.type}${e.severity === 'warning' ? ' (!)' : ''}` },
    { header: 'OBJECT', value: objectText },
    { header: 'REASON', value: (e) => e.reason },
    { header: 'MESSAGE', value: (e) => e.message },
  ]);
}

/** `berth events`: the control plane is not the engine `--api` names, so it has its own flag. */
export function registerEventsCommand(program: Command, ctx: { client(url: string): ApiClient; format(): OutputFormat; run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> }): void {
  addEventOptions(program.command('events')
    .description('what the control plane did and why: nodes offline/lost/back, replicas retired, rebuilds, placement refusals, snapshots')
    .option('--control-plane <url>', 'control plane API URL', process.env.BERTH_CONTROL_PLANE ?? 'http://127.0.0.1:9600'))
    .action(ctx.run(async (f: EventFlags & { controlPlane: string }) => {
      printEvents(ctx.format(), await fetchEvents(ctx.client(f.controlPlane), f));
    }));
}
