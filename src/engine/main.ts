import { createLogger } from '../util/log.ts';
import { parseEngineArgs } from './engine_args.ts';
import { startEngineProcess, stopOnSignals } from './engine_process.ts';

/**
 * The engine process: `node src/engine/main.ts --data-dir DIR --api-listen H:P
 * --iscsi-listen H:P [--log-level L]`. Logs JSON lines on stdout; the line with
 * "msg":"engine ready" carries `api` (URL) and `iscsi` (host:port).
 */
async function main(): Promise<void> {
  let args;
  try {
    args = parseEngineArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`berth-engine: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: args.logLevel, name: 'berth-engine' });
  try {
    const running = await startEngineProcess(args, logger);
    stopOnSignals(running, logger);
  } catch (err) {
    logger.fatal({ err }, 'engine failed to start');
    process.exit(1);
  }
}

await main();
