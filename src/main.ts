import './engine/v8_tuning.ts';
import { createLogger } from './util/log.ts';
import { errorCode } from './util/errors.ts';
import { parseEngineArgs } from './engine/engine_args.ts';
import { startEngineProcess, stopOnSignals, type RunningEngine } from './engine/engine_process.ts';
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

function banner(running: RunningEngine, ex: ExportView): string {
  const cli = running.apiUrl === 'http://127.0.0.1:9500' ? 'bin/berth' : `bin/berth --api ${running.apiUrl}`;
  return [
    '',
    'Berth is running.',
    `  API           ${running.apiUrl}   (docs/api.md; OpenAPI at ${running.apiUrl}/v1/openapi.json)`,
    `  iSCSI portal  ${ex.portal}`,
    `  data          ${running.engine.dataDir}`,
    `  demo volume   ${ex.pool}/${ex.volume}, exported to any initiator as`,
    `                ${ex.url}`,
    '',
    'Try it from another terminal:',
    `  iscsi-ls -s iscsi://${ex.portal}`,
    `  qemu-img info ${ex.url}`,
    `  qemu-io -c 'write -P 0xab 0 1M' -c 'read -P 0xab 0 1M' ${ex.url}`,
    `  ${cli} volume list`,
    `  ${cli} export list`,
    '',
    'Ctrl-C stops Berth cleanly; `npm start` again picks up the same pool, volume and export.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let args;
  try {
    args = parseEngineArgs(argv);
  } catch (err) {
    process.stderr.write(`berth: ${(err as Error).message}\n`);
    process.exit(2);
  }
  // The banner is the interface here; the JSON log shows warnings unless asked for more.
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
  stopOnSignals(running, logger);
  try {
    const ex = await ensureDemo(running);
    process.stdout.write(banner(running, ex));
  } catch (err) {
    process.stderr.write(`berth: cannot set up the demo volume: ${errorCode(err) ?? ''} ${(err as Error).message}\n`);
    await running.stop();
    process.exit(1);
  }
}

await main();
