import './v8_tuning.ts';
import { createLogger } from '../util/log.ts';
import { errorCode } from '../util/errors.ts';
import { ENGINE_FLAGS_HELP, parseEngineArgs } from './engine_args.ts';
import { answerHelpOrVersion } from '../util/entry_point.ts';
import { KEEPER_LAYOUT_ENV } from './fuse_keeper_protocol.ts';

const ENGINE_USAGE = `usage: bin/berth-engine [options]      (or: node src/engine/main.ts with Node 24)

Runs one storage engine: pools, volumes, iSCSI exports, the replica server and the
HTTP API (docs/api.md). Logs are readable lines on a terminal and JSON lines otherwise;
the "engine ready" line carries the API URL and the iSCSI and replica endpoints.
SIGINT or SIGTERM stops it cleanly with exit status 0.

${ENGINE_FLAGS_HELP}
`;

/**
 * The engine process (usage above). With --control-plane the engine heartbeats to the
 * control plane (src/engine/heartbeat.ts). With --local-attach-dir this process becomes
 * the FUSE keeper and runs the engine as its child (src/engine/fuse_keeper.ts).
 */
async function main(): Promise<void> {
  answerHelpOrVersion(process.argv.slice(2), 'berth-engine', ENGINE_USAGE);
  let args;
  try {
    args = parseEngineArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`berth-engine: ${(err as Error).message}\n(bin/berth-engine --help lists the options)\n`);
    process.exit(2);
  }
  const worker = process.env[KEEPER_LAYOUT_ENV] !== undefined;
  if (!worker && args.localAttachDir !== undefined && args.localAttachSpares > 0) {
    // Imported only here, and the engine only below: the keeper stays a small process (no pools, no API).
    const { runFuseKeeper } = await import('./fuse_keeper.ts');
    runFuseKeeper({
      spares: args.localAttachSpares, logger: createLogger({ level: args.logLevel, name: 'berth-engine-keeper' }),
      ...(args.workerCode !== undefined ? { codeDir: args.workerCode } : {}),
    });
    return;
  }
  const { startEngineProcess, stopOnSignals } = await import('./engine_process.ts');
  const { startHeartbeat } = await import('./heartbeat.ts');
  const { API_VERSION } = await import('./api/api_server.ts');
  const { KeptFds } = await import('./kept_fds.ts');
  const logger = createLogger({ level: args.logLevel, name: 'berth-engine' });
  try {
    let kept: InstanceType<typeof KeptFds> | undefined;
    if (worker) {
      // The keeper is gone: so are the kept connections, and this process must not outlive it either.
      process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
      kept = KeptFds.fromEnv();
    }
    const running = await startEngineProcess(args, logger, kept);
    kept?.ready();
    const stopBeat = args.controlPlane === undefined || args.nodeId === undefined ? undefined : startHeartbeat({
      engine: running.engine, controlPlanes: args.controlPlane, nodeId: args.nodeId, labels: args.labels ?? {},
      endpoint: new URL(running.apiUrl).host, engineVersion: API_VERSION, logger,
      ...(running.clientToken !== undefined ? { authToken: running.clientToken } : {}),
    });
    stopOnSignals({ ...running, stop: async () => { stopBeat?.(); await running.stop(); } }, logger);
    kept?.onHandover(() => {
      logger.info('handing over to the next engine worker: local attaches stay mounted');
      stopBeat?.();
      running.stop({ handover: true }).then(() => process.exit(0), (err: unknown) => {
        logger.error({ err }, 'handover stop failed');
        process.exit(1);
      });
    });
  } catch (err) {
    const code = errorCode(err);
    if (code === 'AUTH_CONFIG' || code === 'DATA_DIR_IN_USE') process.stderr.write(`berth-engine: ${(err as Error).message}\n`);
    logger.fatal({ err }, 'engine failed to start');
    process.exit(1);
  }
}

await main();
