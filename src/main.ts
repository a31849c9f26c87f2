import './engine/v8_tuning.ts';
import { createLogger } from './util/log.ts';
import { errorCode } from './util/errors.ts';
import { answerHelpOrVersion } from './util/entry_point.ts';
import { ENGINE_FLAGS_HELP, parseEngineArgs } from './engine/engine_args.ts';
import { startEngineProcess, stopOnSignals, type RunningEngine } from './engine/engine_process.ts';
import { quickstartBanner, stoppedMessage } from './engine/quickstart_banner.ts';
import type { ExportView } from './engine/engine_types.ts';

/**
 * The quick start (`npm start`): one engine on ./data with a file-backed pool `default`,
 * a thin volume `demo` exported to any initiator, and the commands to try it. Everything
 * is created only when missing, so a second start re-imports and reuses it.
 */

const DEMO_POOL = 'default';
const DEMO_POOL_BYTES = 16 * 2 ** 30;
const DEMO_VOLUME = 'demo';
const DEMO_VOLUME_BYTES = 2 ** 30;

const USAGE = `usage: npm start -- [options]      (or: node src/main.ts with Node 24)

The quick start (docs/quickstart.md): one engine on ./data with the pool 'default' and
the thin 1 GiB volume 'demo' exported to any initiator; created when missing, brought
back on the next start. Ctrl-C stops it cleanly (the engine exits 0; npm itself then
reports status 130, as for any script interrupted from the keyboard). Only warnings are
logged unless --log-level is given; bin/berth-engine is the engine without the demo.

${ENGINE_FLAGS_HELP}
`;

async function ensureDemo(running: RunningEngine): Promise<ExportView> {
  const { engine } = running;
  const pool = engine.listPools().find((p) => p.name === DEMO_POOL);
  if (!pool) await engine.createPool({ name: DEMO_POOL, sizeBytes: DEMO_POOL_BYTES });
  else if (pool.state === 'faulted') throw new Error(`pool '${DEMO_POOL}' is faulted: ${pool.reason}`);
  const volumes = await engine.listVolumes(DEMO_POOL);
  if (!volumes.some((v) => v.name === DEMO_VOLUME)) {
    await engine.createVolume(DEMO_POOL, { name: DEMO_VOLUME, sizeBytes: DEMO_VOLUME_BYTES, thin: true });
  }
  const existing = engine.listExports().find((e) => e.pool === DEMO_POOL && e.volume === DEMO_VOLUME);
  return existing ?? engine.createExport({ pool: DEMO_POOL, volume: DEMO_VOLUME, allowedInitiators: null });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  answerHelpOrVersion(argv, 'berth', USAGE);
  let args;
  try {
    args = parseEngineArgs(argv);
  } catch (err) {
    process.stderr.write(`berth: ${(err as Error).message}\n(npm start -- --help lists the options)\n`);
    process.exit(2);
  }
  // The banner is the interface here; the log shows warnings unless asked for more.
  const logLevel = argv.includes('--log-level') || process.env.BERTH_LOG_LEVEL ? args.logLevel : 'warn';
  const logger = createLogger({ level: logLevel, name: 'berth' });
  let running: RunningEngine;
  try {
    running = await startEngineProcess(args, logger);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'EADDRINUSE' ? ' (is another Berth or iSCSI target running? see --iscsi-listen/--api-listen)' : '';
    process.stderr.write(`berth: cannot start: ${errorCode(err) ?? e.code ?? 'ERROR'}: ${e.message}${hint}\n`);
    process.exit(1);
  }
  const { engine } = running;
  const broughtBack = {
    pools: engine.listPools().map((p) => p.name),
    exports: engine.listExports().map((e) => `${e.pool}/${e.volume}`),
  };
  let closing = { pools: [] as string[], exports: [] as string[], sessions: 0 };
  stopOnSignals(running, logger, {
    before: () => {
      closing = { pools: engine.listPools().map((p) => p.name), exports: engine.listExports().map((e) => `${e.pool}/${e.volume}`), sessions: engine.sessions().length };
    },
    after: (signal) => process.stdout.write(stoppedMessage(signal, closing.pools, closing.exports, closing.sessions)),
  });
  try {
    const demo = await ensureDemo(running);
    process.stdout.write(quickstartBanner({
      apiUrl: running.apiUrl, portal: running.iscsi, dataDir: engine.dataDir, demo,
      pools: engine.listPools(), exports: engine.listExports(), broughtBack,
    }));
  } catch (err) {
    process.stderr.write(`berth: cannot set up the demo volume: ${errorCode(err) ?? ''} ${(err as Error).message}\n`);
    await running.stop();
    process.exit(1);
  }
}

await main();
