import type { FastifyInstance } from 'fastify';
import { setDefaultIoMode } from '../pool/pool_file.ts';
import { setThickZeroing } from '../pool/pool_extent_supply.ts';
import type { Logger } from '../util/log.ts';
import { Engine } from './engine.ts';
import type { KeptFds } from './kept_fds.ts';
import { buildApiServer } from './api/api_server.ts';
import { formatHostPort, type EngineArgs } from './engine_args.ts';
import { setUpApiAuth } from '../util/auth_setup.ts';
import { decideListenAuth } from '../util/auth_token.ts';

export interface RunningEngine {
  engine: Engine;
  api: FastifyInstance;
  /** http://host:port of the API. */
  apiUrl: string;
  /** host:port of the iSCSI portal. */
  iscsi: string;
  /** The token this engine sends as a client (the token file's first line), if any. */
  clientToken?: string;
  /** Stops cleanly; `handover`: kept local attaches stay mounted for the next worker. */
  stop(o?: { handover?: boolean }): Promise<void>;
}

/**
 * Starts an engine and its API in this process, and logs the "engine ready" line that
 * scripts and tests wait for. Shared by `src/engine/main.ts` and the quick start.
 */
export async function startEngineProcess(args: EngineArgs, logger: Logger, keptFds?: KeptFds): Promise<RunningEngine> {
  setDefaultIoMode(args.ioMode);
  setThickZeroing(args.thickZeroing);
  // Refuse a network-reachable API without a token before anything is opened.
  const auth = setUpApiAuth({
    host: args.apiListen.host, listenFlag: '--api-listen', tokenFile: args.authTokenFile, insecureNoAuth: args.insecureNoAuth === true, logger,
  });
  // The replica protocol reads and writes any replica: the same rule as the API, with the same token.
  const replicaHost = (args.replicaListen ?? args.iscsiListen).host;
  const replicaAuth = decideListenAuth({
    host: replicaHost, listenFlag: args.replicaListen ? '--replica-listen' : '--iscsi-listen (where the replica server listens by default)',
    tokenConfigured: auth.tokens !== undefined, insecureNoAuth: args.insecureNoAuth === true,
  });
  if (replicaAuth === 'insecure-open') logger.warn({ listen: replicaHost }, 'replica server serves the network WITHOUT authentication: anyone who can reach it can read and write replicas');
  const engine = await Engine.open({
    dataDir: args.dataDir, iscsi: args.iscsiListen, ...(args.replicaListen ? { replica: args.replicaListen } : {}), logger,
    ...(auth.tokens ? { replicaAuthTokens: auth.tokens } : {}),
    ...(args.poolRoots ? { poolRoots: args.poolRoots } : {}),
    poolOwnership: {
      ...(args.poolHeartbeatMs !== undefined ? { intervalMs: args.poolHeartbeatMs } : {}), ...(args.nodeId !== undefined ? { nodeId: args.nodeId } : {}),
    },
    ...(args.rebuildThrottleMode ? { rebuildThrottleMode: args.rebuildThrottleMode } : {}),
    ...(args.localAttachDir ? { localAttachDir: args.localAttachDir } : {}),
    ...(keptFds ? { keptFds } : {}),
  });
  let api: FastifyInstance;
  try {
    api = await buildApiServer(engine, logger.child({ component: 'api' }), auth.tokens ? { auth: { tokens: auth.tokens } } : {});
    await api.listen({ host: args.apiListen.host, port: args.apiListen.port });
  } catch (err) {
    await engine.close();
    throw err;
  }
  const addr = api.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : args.apiListen.port;
  const apiUrl = `http://${formatHostPort({ host: args.apiListen.host, port })}`;
  const iscsi = formatHostPort(engine.portal);
  logger.info({ api: apiUrl, iscsi, replica: engine.replicaEndpoint, dataDir: engine.dataDir, pid: process.pid }, 'engine ready');
  let stopping: Promise<void> | undefined;
  const stop = (o: { handover?: boolean } = {}): Promise<void> => (stopping ??= (async () => {
    await api.close();
    await engine.close(o);
  })());
  return { engine, api, apiUrl, iscsi, stop, ...(auth.tokens ? { clientToken: auth.tokens[0] } : {}) };
}

/**
 * SIGINT/SIGTERM stop the engine cleanly and exit 0; a second signal exits at once.
 * `before` runs as the signal arrives (to note what is about to stop), `after` once all is closed.
 */
export function stopOnSignals(running: RunningEngine, logger: Logger, report: { before?: () => void; after?: (signal: NodeJS.Signals) => void } = {}): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down');
    report.before?.();
    running.stop().then(
      () => {
        report.after?.(signal);
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
