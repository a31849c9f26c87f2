import { parseArgs } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../util/log.ts';
import { LEADER_KEY } from './model/spec_common.ts';
import { NodeRegistry, DEFAULT_TIMING } from './registry/index.ts';
import { EtcdClient, EtcdElection, EtcdStore, SqliteStore, type Store } from './store/index.ts';
import { connectEngine } from './engine_client/index.ts';
import { ALWAYS_LEADER, FaultInjector, ServiceContext, createServices, type Leadership } from './service/index.ts';
import { ReconcileLoop, defaultReconcilers } from './reconcile/index.ts';
import { buildControlApi } from './api/index.ts';
import { tokenFilePath } from '../util/auth_token_file.ts';
import { ChapSealer } from './service/chap_seal.ts';
import { setUpApiAuth, type ApiAuthSetup } from '../util/auth_setup.ts';
import { answerHelpOrVersion } from '../util/entry_point.ts';
import { EventLog, EventRecorder } from './events/index.ts';
import { IoSampler, engineGetJson, engineMetricsFetcher } from './io_samples/index.ts';

const CONTROL_USAGE = `usage: bin/berth-control-plane [options]      (or: node src/control/main.ts with Node 24)

Runs the control plane: the desired state of nodes, pools, volumes, replicas, nexuses
and snapshots, placement, healing, and the REST API (docs/control-plane-api.md).
SIGINT or SIGTERM stops it cleanly with exit status 0.

options:
  --listen HOST:PORT             REST API (default 127.0.0.1:9600)
  --store sqlite:PATH            state in a SQLite file (default sqlite:./berth-control.db)
  --store etcd:URL[,URL…]        state in etcd; instances elect a leader
  --advertise URL                the URL other parts reach this instance at (default: from --listen)
  --reconcile-interval-ms N      how often reconcilers run (default 2000, at least 100)
  --heartbeat-deadline-ms N      a node whose engine is silent this long is offline (default ${DEFAULT_TIMING.heartbeatDeadlineMs})
  --node-loss-grace-ms N         offline this long is lost; its replicas are replaced (default ${DEFAULT_TIMING.nodeLossGraceMs})
  --orphan-min-age-ms N          leave unknown replicas and snapshot copies younger than this (default 60000)
  --orphan-interval-ms N         how often orphans are looked for (default 30000)
  --election-ttl-s N             etcd leader lease (default 5)
  --auth-token-file PATH         demand the bearer token in PATH (or $BERTH_AUTH_TOKEN_FILE; docs/security.md)
  --rebuild-throttle-mode MODE   adaptive or fixed: for nexuses of volumes that set none (default: each engine's own)
  --insecure-no-auth             serve a non-loopback API without a token, on purpose
  --log-level LEVEL              trace, debug, info, warn, error, fatal, silent (default info)
  -h, --help                     print this help and exit
  --version                      print the version and exit
`;

/**
 * The control-plane process (usage above). With etcd, instances elect a leader through
 * an etcd lease; only the leader writes and runs reconcilers, followers answer writes
 * with 503 NOT_LEADER naming the leader (body error.leader and header x-berth-leader)
 * and accept heartbeats. "control plane ready" carries `api`, "leadership acquired"
 * marks the leader.
 */
interface ControlArgs {
  listen: { host: string; port: number };
  store: { kind: 'sqlite'; path: string } | { kind: 'etcd'; endpoints: string[] };
  advertise?: string;
  reconcileIntervalMs: number;
  heartbeatDeadlineMs: number;
  nodeLossGraceMs: number;
  orphanMinAgeMs: number;
  orphanIntervalMs: number;
  electionTtlSeconds: number;
  logLevel: string;
  /** `--auth-token-file` or BERTH_AUTH_TOKEN_FILE (docs/security.md). */
  authTokenFile?: string;
  insecureNoAuth: boolean;
  /** `--rebuild-throttle-mode`: sent with every nexus of a volume that sets no mode. */
  rebuildThrottleMode?: 'adaptive' | 'fixed';
}

function parseControlArgs(argv: string[]): ControlArgs {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      listen: { type: 'string' }, store: { type: 'string' }, advertise: { type: 'string' },
      'reconcile-interval-ms': { type: 'string' }, 'heartbeat-deadline-ms': { type: 'string' },
      'node-loss-grace-ms': { type: 'string' }, 'orphan-min-age-ms': { type: 'string' }, 'orphan-interval-ms': { type: 'string' },
      'election-ttl-s': { type: 'string' }, 'log-level': { type: 'string' },
      'auth-token-file': { type: 'string' }, 'insecure-no-auth': { type: 'boolean' },
      'rebuild-throttle-mode': { type: 'string' },
    },
  });
  const throttleMode = values['rebuild-throttle-mode'];
  if (throttleMode !== undefined && throttleMode !== 'adaptive' && throttleMode !== 'fixed') throw new Error('--rebuild-throttle-mode wants adaptive or fixed');
  const listen = /^(.+):(\d{1,5})$/.exec(values.listen ?? '127.0.0.1:9600');
  if (listen === null || Number(listen[2]) > 65535) throw new Error('--listen wants HOST:PORT');
  const authTokenFile = tokenFilePath(values['auth-token-file']);
  const storeText = values.store ?? 'sqlite:./berth-control.db';
  let store: ControlArgs['store'];
  if (storeText.startsWith('sqlite:') && storeText.length > 7) store = { kind: 'sqlite', path: storeText.slice(7) };
  else if (storeText.startsWith('etcd:')) store = { kind: 'etcd', endpoints: storeText.slice(5).split(',').filter((e) => e.length > 0) };
  else throw new Error('--store wants sqlite:PATH or etcd:URL[,URL…]');
  if (store.kind === 'etcd' && store.endpoints.length === 0) throw new Error('--store etcd: needs at least one URL');
  const ms = (name: string, text: string | undefined, dflt: number): number => {
    const n = text === undefined ? dflt : Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} wants a non-negative integer`);
    return n;
  };
  return {
    listen: { host: listen[1].replace(/^\[|\]$/g, ''), port: Number(listen[2]) },
    store,
    advertise: values.advertise,
    reconcileIntervalMs: Math.max(100, ms('reconcile-interval-ms', values['reconcile-interval-ms'], 2000)),
    heartbeatDeadlineMs: ms('heartbeat-deadline-ms', values['heartbeat-deadline-ms'], DEFAULT_TIMING.heartbeatDeadlineMs),
    nodeLossGraceMs: ms('node-loss-grace-ms', values['node-loss-grace-ms'], DEFAULT_TIMING.nodeLossGraceMs),
    orphanMinAgeMs: ms('orphan-min-age-ms', values['orphan-min-age-ms'], 60_000),
    orphanIntervalMs: ms('orphan-interval-ms', values['orphan-interval-ms'], 30_000),
    electionTtlSeconds: Math.max(1, ms('election-ttl-s', values['election-ttl-s'], 5)),
    logLevel: values['log-level'] ?? process.env.BERTH_LOG_LEVEL ?? 'info',
    ...(authTokenFile !== undefined ? { authTokenFile } : {}),
    insecureNoAuth: values['insecure-no-auth'] === true,
    ...(throttleMode !== undefined ? { rebuildThrottleMode: throttleMode } : {}),
  };
}

/** Leadership through an etcd lease; the leader's URL is the election key's value. */
class EtcdLeadership implements Leadership {
  /** Set once the API listens (the candidate value is its URL). */
  election: EtcdElection | undefined;
  #hint: { url: string | undefined; atMs: number } = { url: undefined, atMs: 0 };

  isLeader(): boolean {
    return this.election?.leadership !== undefined;
  }

  fence() {
    return this.election?.leadership?.fence;
  }

  async leaderUrl(): Promise<string | undefined> {
    if (this.election !== undefined && Date.now() - this.#hint.atMs > 1000) {
      const url = await this.election.leader().then((l) => l?.candidate, () => undefined);
      this.#hint = { url, atMs: Date.now() };
    }
    return this.#hint.url;
  }
}

async function main(): Promise<void> {
  answerHelpOrVersion(process.argv.slice(2), 'berth-control-plane', CONTROL_USAGE);
  let args: ControlArgs;
  try {
    args = parseControlArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`berth-control: ${(err as Error).message}\n(bin/berth-control-plane --help lists the options)\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: args.logLevel, name: 'berth-control' });
  let auth: ApiAuthSetup;
  try {
    auth = setUpApiAuth({ host: args.listen.host, listenFlag: '--listen', tokenFile: args.authTokenFile, insecureNoAuth: args.insecureNoAuth, logger });
  } catch (err) {
    process.stderr.write(`berth-control: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const faults = FaultInjector.fromEnv();
  if (faults.armed) logger.warn('TEST-ONLY fault injection is armed (BERTH_TEST_FAULT)');

  let store: Store;
  let client: EtcdClient | undefined;
  if (args.store.kind === 'sqlite') store = new SqliteStore({ path: args.store.path });
  else {
    client = new EtcdClient({ endpoints: args.store.endpoints });
    store = new EtcdStore({ client });
  }
  const registry = new NodeRegistry(Date.now(), { timing: { heartbeatDeadlineMs: args.heartbeatDeadlineMs, nodeLossGraceMs: args.nodeLossGraceMs } });
  const etcdLeadership = client !== undefined ? new EtcdLeadership() : undefined;
  const leadership: Leadership = etcdLeadership ?? ALWAYS_LEADER;
  // The cluster token also seals CHAP secrets in the store (chap_seal.ts); without one, CHAP publishes are refused.
  const ctx = new ServiceContext({
    store, engines: connectEngine(undefined, auth.tokens?.[0]), registry, logger, leadership, faults,
    ...(auth.tokens ? { chap: new ChapSealer(auth.tokens) } : {}),
    ...(args.rebuildThrottleMode ? { rebuildThrottleMode: args.rebuildThrottleMode } : {}),
  });
  const services = createServices(ctx);
  const events = new EventLog({ store, fence: () => leadership.fence() });
  const loop = new ReconcileLoop(ctx, [
    ...defaultReconcilers({ orphans: { minAgeMs: args.orphanMinAgeMs, intervalMs: args.orphanIntervalMs } }),
    new EventRecorder(events),
  ]);
  const io = new IoSampler({ ctx, fetchMetrics: engineMetricsFetcher(auth.tokens?.[0]) });

  let api: FastifyInstance;
  try {
    api = await buildControlApi(services, logger.child({ component: 'api' }), { storeKind: args.store.kind, reconcileStats: loop.stats, events, io: { sampler: io, engineGet: engineGetJson(auth.tokens?.[0]) }, ...(auth.tokens ? { authTokens: auth.tokens } : {}) });
    await api.listen({ host: args.listen.host, port: args.listen.port });
  } catch (err) {
    logger.fatal({ err }, 'control plane failed to start');
    process.exit(1);
  }
  const addr = api.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : args.listen.port;
  const url = args.advertise ?? `http://${args.listen.host.includes(':') ? `[${args.listen.host}]` : args.listen.host}:${port}`;
  logger.info({ api: url, store: args.store.kind, pid: process.pid }, 'control plane ready');

  // The timers live here only: reconcilers are plain functions, the loop a pass runner.
  const tick = setInterval(() => registry.tick(Date.now()), 1000);
  const ioTick = setInterval(() => void io.tick(), io.intervalMs);
  const reconcile = setInterval(() => {
    if (leadership.isLeader()) void loop.runOnce();
  }, args.reconcileIntervalMs);

  const abort = new AbortController();
  let election: EtcdElection | undefined;
  let lost: (() => void) | undefined;
  if (client !== undefined && etcdLeadership !== undefined) {
    election = new EtcdElection({
      client, key: LEADER_KEY, candidate: url, ttlSeconds: args.electionTtlSeconds,
      onLost: (reason) => { logger.error({ reason }, 'leadership lost'); lost?.(); },
    });
    etcdLeadership.election = election;
    void campaign(election, url, services, logger, abort.signal, (f) => { lost = f; });
  } else {
    await services.nodes.restore();
    logger.info({ leader: url }, 'leadership acquired');
  }

  stopOnSignals(logger, async () => {
    clearInterval(tick);
    clearInterval(ioTick);
    clearInterval(reconcile);
    abort.abort();
    await api.close();
    if (election !== undefined) await election.resign().catch(() => undefined);
    await store.close();
  });
}

/** Campaign, lead until the lease is lost, campaign again. */
async function campaign(
  election: EtcdElection, url: string, services: ReturnType<typeof createServices>, logger: Logger,
  signal: AbortSignal, onLostHook: (f: () => void) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const lostOnce = new Promise<void>((resolve) => onLostHook(resolve));
      await election.campaign(signal);
      await services.nodes.restore();
      logger.info({ leader: url }, 'leadership acquired');
      await lostOnce;
    } catch (err) {
      if (signal.aborted) return;
      logger.warn({ err }, 'campaign failed; retrying');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(1);
    signalled = true;
    logger.info({ signal }, 'shutting down');
    stop().then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

await main();
