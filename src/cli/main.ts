import { Command } from 'commander';
import { ApiClient } from './api_client.ts';
import { parseOutputFormat, printJson, type OutputFormat } from './cli_output.ts';
import { cliTokenSource, reportError, type CliContext } from './cli_context.ts';
import { registerPoolCommands } from './commands_pool.ts';
import { registerVolumeCommands } from './commands_volume.ts';
import { registerExportCommands, rewriteExportShorthand } from './commands_export.ts';
import { registerLocalCommands } from './commands_local.ts';
import { registerNexusCommands } from './commands_nexus.ts';
import { registerReplicaCommands } from './commands_replica.ts';
import { registerSnapshotCommands } from './commands_snapshot.ts';
import { registerBenchCommand } from './commands_bench.ts';
import { registerEventsCommand } from './commands_events.ts';
import { BERTH_VERSION } from '../util/entry_point.ts';

/** `berth`: the operator's CLI, a client of the engine's HTTP/JSON API only. */
export function buildProgram(): Command {
  const program = new Command('berth')
    .description('Berth storage: pools, volumes and iSCSI exports')
    .option('--api <url>', 'engine API URL', process.env.BERTH_API ?? 'http://127.0.0.1:9500')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--token-file <path>', 'file holding the cluster API token (default: $BERTH_AUTH_TOKEN_FILE)')
    .version(`berth ${BERTH_VERSION}`, '--version', 'print the version and exit')
    .showHelpAfterError()
    .exitOverride();
  const opts = (): { api: string; output: string; tokenFile?: string } => program.opts();
  const token = cliTokenSource(() => opts().tokenFile);
  const ctx: CliContext = {
    api: () => new ApiClient(opts().api, token()),
    client: (url) => new ApiClient(url, token()),
    format: (): OutputFormat => parseOutputFormat(opts().output),
    run: (fn) => async (...args) => {
      ctx.format();
      await fn(...args);
    },
    done: (message) => {
      if (ctx.format() === 'json') printJson({});
      else process.stdout.write(message + '\n');
    },
  };
  program.command('status')
    .description('engine health summary')
    .action(ctx.run(async () => printJson(await ctx.api().get('/v1/health'))));
  registerPoolCommands(program, ctx);
  registerVolumeCommands(program, ctx);
  registerExportCommands(program, ctx);
  registerLocalCommands(program, ctx);
  registerNexusCommands(program, ctx);
  registerReplicaCommands(program, ctx);
  registerSnapshotCommands(program, ctx);
  registerBenchCommand(program, ctx.format, ctx.run);
  registerEventsCommand(program, ctx);
  // Subcommands exit through the same path as the program so errors print one way.
  for (const c of program.commands) {
    c.exitOverride();
    for (const s of c.commands) s.exitOverride();
  }
  return program;
}

async function main(): Promise<void> {
  const argv = rewriteExportShorthand(process.argv.slice(2));
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') {
      process.exitCode = 0;
      return;
    }
    process.exitCode = reportError(err);
  }
}

// Imported by tests (the docs check) for its command definitions: run only as the program.
if (import.meta.main) await main();
