import './v8_tuning.ts';
import { createLogger } from '../util/log.ts';
import { errorCode } from '../util/errors.ts';
import { parseEngineArgs } from './engine_args.ts';
import { startEngineProcess, stopOnSignals } from './engine_process.ts';
import { startHeartbeat } from './heartbeat.ts';
import { API_VERSION } from './api/api_server.ts';

/**
 * The engine process: `node src/engine/main.ts --data-dir DIR --api-listen H:P
 * --iscsi-listen H:P [--replica-listen H:P] [--log-level L] [--io-mode auto|sync|async] [--auth-token-file PATH | --insecure-no-auth] [--control-plane URL[,URL…] --node-id ID [--labels k=v,…]]`.
 * With --control-plane the engine heartbeats to the control plane (src/engine/heartbeat.ts).
 * Logs JSON lines on stdout; the line with "msg":"engine ready" carries `api` (URL) and
 * `iscsi` and `replica` (host:port).
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
    const stopBeat = args.controlPlane === undefined || args.nodeId === undefined ? undefined : startHeartbeat({
      engine: running.engine, controlPlanes: args.controlPlane, nodeId: args.nodeId, labels: args.labels ?? {},
      endpoint: new URL(running.apiUrl).host, engineVersion: API_VERSION, logger,
      ...(running.clientToken !== undefined ? { authToken: running.clientToken } : {}),
    });
    stopOnSignals({ ...running, stop: async () => { stopBeat?.(); await running.stop(); } }, logger);
  } catch (err) {
    if (errorCode(err) === 'AUTH_CONFIG') process.stderr.write(`berth-engine: ${(err as Error).message}\n`);
    logger.fatal({ err }, 'engine failed to start');
    process.exit(1);
  }
}

await main();
