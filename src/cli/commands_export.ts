import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BerthError } from '../util/errors.ts';
import type { CliContext } from './cli_context.ts';
import { volumePath } from './api_client.ts';
import { parseVolumeRef, printObject, printRows } from './cli_output.ts';

interface ExportDoc {
  pool: string; volume: string; targetIqn: string; lun: number; portal: string; url: string;
  allowedInitiators: string[] | null; chap: { user: string; mutualUser?: string } | null;
  state: string; reason?: string;
}

interface TargetDoc {
  iqn: string; allowedInitiators: string[] | null; chap: { user: string; mutualUser?: string } | null;
  luns: { lun: number; pool: string; volume: string; state: string }[];
  sessions: { initiatorName: string; isid: string; tsih: number; remoteAddress: string; commandsInFlight: number }[];
}

interface ExportOptions {
  target?: string; lun?: string; allow?: string[]; allowAny?: boolean;
  chapUser?: string; chapSecret?: string; chapSecretFile?: string;
  mutualUser?: string; mutualSecret?: string; mutualSecretFile?: string;
}

export const EXPORT_SUBCOMMANDS = ['create', 'list', 'ls', 'delete', 'rm', 'help'];

/** Adds the export flags to `export create` (and, by argv rewriting, to `export POOL/VOL`). */
function exportFlags(cmd: Command): Command {
  return cmd
    .option('--target <iqn>', 'target IQN (default iqn.2026-11.io.berth:POOL.VOLUME); an existing target gets another LUN')
    .option('--lun <n>', 'LUN number (default: lowest free)')
    .option('--allow <iqn...>', 'initiator IQNs allowed to log in')
    .option('--allow-any', 'let any initiator log in')
    .option('--chap-user <name>', 'CHAP user the initiator must authenticate as')
    .option('--chap-secret <secret>', 'CHAP secret (visible in ps: prefer --chap-secret-file or $BERTH_CHAP_SECRET)')
    .option('--chap-secret-file <file>', 'read the CHAP secret from a file')
    .option('--mutual-user <name>', 'user the target authenticates as (mutual CHAP)')
    .option('--mutual-secret <secret>', 'mutual CHAP secret (prefer --mutual-secret-file or $BERTH_MUTUAL_SECRET)')
    .option('--mutual-secret-file <file>', 'read the mutual CHAP secret from a file');
}

export function buildExportRequest(ref: string, o: ExportOptions, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const body: Record<string, unknown> = { ...parseVolumeRef(ref) };
  if (o.target) body.targetIqn = o.target;
  if (o.lun !== undefined) {
    if (!/^\d+$/.test(o.lun)) throw new BerthError('INVALID_ARGUMENT', `--lun wants a number, got '${o.lun}'`);
    body.lun = Number(o.lun);
  }
  if (o.allow && o.allowAny) throw new BerthError('INVALID_ARGUMENT', 'choose --allow IQN… or --allow-any, not both');
  if (o.allow) body.allowedInitiators = o.allow;
  else if (o.allowAny) body.allowedInitiators = null;
  else if (!o.target) {
    // Deny by default: who may connect is a choice the operator makes explicitly.
    throw new BerthError('INVALID_ARGUMENT', 'say who may connect: --allow IQN… or --allow-any');
  }
  const secret = readSecret(o.chapSecret, o.chapSecretFile, env.BERTH_CHAP_SECRET, '--chap-secret');
  const mutual = readSecret(o.mutualSecret, o.mutualSecretFile, env.BERTH_MUTUAL_SECRET, '--mutual-secret');
  if (o.chapUser || secret !== undefined) {
    if (!o.chapUser || secret === undefined) throw new BerthError('INVALID_ARGUMENT', 'CHAP needs --chap-user and a secret');
    const chap: Record<string, string> = { user: o.chapUser, secret };
    if (o.mutualUser || mutual !== undefined) {
      if (!o.mutualUser || mutual === undefined) throw new BerthError('INVALID_ARGUMENT', 'mutual CHAP needs --mutual-user and a secret');
      chap.mutualUser = o.mutualUser;
      chap.mutualSecret = mutual;
    }
    body.chap = chap;
  } else if (o.mutualUser || mutual !== undefined) {
    throw new BerthError('INVALID_ARGUMENT', 'mutual CHAP needs one-way CHAP too (--chap-user and a secret)');
  }
  return body;
}

function readSecret(value: string | undefined, file: string | undefined, envValue: string | undefined, flag: string): string | undefined {
  if (value !== undefined && file !== undefined) throw new BerthError('INVALID_ARGUMENT', `give ${flag} or ${flag}-file, not both`);
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new BerthError('INVALID_ARGUMENT', `cannot read ${flag}-file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return value ?? (envValue || undefined);
}

export function registerExportCommands(program: Command, ctx: CliContext): void {
  const exp = program.command('export').description('export volumes over iSCSI (also: berth export POOL/VOL …)');

  exportFlags(exp.command('create <pool/volume>').description('export a volume as a LUN of an iSCSI target'))
    .action(ctx.run(async (ref: string, o: ExportOptions) => {
      describe(ctx, await ctx.api().post<ExportDoc>('/v1/exports', buildExportRequest(ref, o, process.env)));
    }));

  exp.command('list').alias('ls').description('list exports').action(ctx.run(async () => {
    const doc = await ctx.api().get<{ exports: ExportDoc[] }>('/v1/exports');
    printRows(ctx.format(), doc, doc.exports, [
      { header: 'VOLUME', value: (e) => `${e.pool}/${e.volume}` },
      { header: 'TARGET', value: (e) => e.targetIqn },
      { header: 'LUN', value: (e) => e.lun },
      { header: 'ACCESS', value: (e) => access(e) },
      { header: 'STATE', value: (e) => e.state },
      { header: 'URL', value: (e) => e.url },
    ]);
  }));

  const unexport = ctx.run(async (ref: string) => {
    await ctx.api().delete(`/v1/exports/${volumePath(parseVolumeRef(ref))}`);
    ctx.done(`export of ${ref} removed`);
  });
  exp.command('delete <pool/volume>').alias('rm').description('stop exporting a volume').action(unexport);
  program.command('unexport <pool/volume>').description('stop exporting a volume (= export delete)').action(unexport);

  const target = program.command('target').description('iSCSI targets and their sessions');
  target.command('list').alias('ls').description('list targets, LUNs and logged-in sessions').action(ctx.run(async () => {
    const doc = await ctx.api().get<{ targets: TargetDoc[] }>('/v1/targets');
    printRows(ctx.format(), doc, doc.targets, [
      { header: 'TARGET', value: (t) => t.iqn },
      { header: 'LUNS', value: (t) => t.luns.map((l) => `${l.lun}:${l.pool}/${l.volume}${l.state === 'online' ? '' : ` (${l.state})`}`).join('\n') },
      { header: 'ACCESS', value: (t) => access(t) },
      { header: 'SESSIONS', value: (t) => t.sessions.map((s) => `${s.initiatorName} ${s.remoteAddress} tsih=${s.tsih}`).join('\n') || '-' },
    ]);
  }));
}

/** Global options that take a value, so the command word can be found after them. */
const GLOBAL_VALUE_OPTIONS = ['--api', '-o', '--output'];

/** `berth export POOL/VOL …` is `berth export create POOL/VOL …`. */
export function rewriteExportShorthand(argv: string[]): string[] {
  let i = 0;
  while (i < argv.length && argv[i].startsWith('-')) i += GLOBAL_VALUE_OPTIONS.includes(argv[i]) ? 2 : 1;
  if (argv[i] !== 'export') return argv;
  const next = argv[i + 1];
  if (next === undefined || next.startsWith('-') || EXPORT_SUBCOMMANDS.includes(next)) return argv;
  return [...argv.slice(0, i + 1), 'create', ...argv.slice(i + 1)];
}

function access(e: { allowedInitiators: string[] | null; chap: { user: string; mutualUser?: string } | null }): string {
  const who = e.allowedInitiators === null ? 'any initiator' : e.allowedInitiators.join('\n') || 'nobody';
  const chap = e.chap ? (e.chap.mutualUser ? ' + mutual CHAP' : ' + CHAP') : '';
  return who + chap;
}

function describe(ctx: CliContext, e: ExportDoc): void {
  const fields: [string, string | number][] = [
    ['volume', `${e.pool}/${e.volume}`], ['target', e.targetIqn], ['lun', e.lun], ['portal', e.portal],
    ['url', e.url], ['access', access(e).replace(/\n/g, ', ')], ['chap user', e.chap?.user ?? '-'], ['state', e.state],
  ];
  if (e.reason) fields.push(['reason', e.reason]);
  printObject(ctx.format(), e, fields);
}
