import { parseArgs } from 'node:util';
import { IO_MODES, isIoMode, type IoMode } from '../pool/pool_io_policy.ts';
import { isThickZeroing, THICK_ZEROINGS, type ThickZeroing } from '../pool/pool_extent_supply.ts';
import { InvalidArgumentError } from './errors.ts';
import { MAX_HEARTBEAT_MS, MIN_HEARTBEAT_MS } from '../pool/pool_owner_policy.ts';
import { isRebuildThrottleMode, RebuildThrottleMode, type RebuildThrottleModeName } from '../nexus/rebuild_throttle.ts';
import { tokenFilePath } from '../util/auth_token_file.ts';

export interface HostPort {
  host: string;
  port: number;
}

export interface EngineArgs {
  dataDir: string;
  apiListen: HostPort;
  iscsiListen: HostPort;
  /** Replica protocol server (`--replica-listen`); default: the iSCSI host, a kernel-chosen port. */
  replicaListen?: HostPort;
  logLevel: string;
  /** `--io-mode auto|sync|async`: how pool files do positional I/O (docs/performance.md). */
  ioMode: IoMode;
  /** `--thick-zeroing lazy|eager`: whether thick volumes on pool files are written with zeros at create (docs/performance.md). */
  thickZeroing: ThickZeroing;
  /** Register with these control planes (`--control-plane URL[,URL…]`); needs `nodeId`. */
  controlPlane?: string[];
  nodeId?: string;
  /** `--labels k=v,…`: topology (zone, storageGroup), pool media, the node's initiatorIqn. */
  labels?: Record<string, string>;
  /** `--auth-token-file` or BERTH_AUTH_TOKEN_FILE: the API demands this bearer token (docs/security.md). */
  authTokenFile?: string;
  /** `--insecure-no-auth`: serve a non-loopback API without a token, on purpose. */
  insecureNoAuth?: boolean;
  /** `--pool-root DIR` (repeatable): where else than the data dir pool files may be created or imported. */
  poolRoots?: string[];
  /** `--pool-heartbeat-ms` or BERTH_POOL_HEARTBEAT_MS: the pools' owner heartbeat (docs/pool-format.md "Ownership"). */
  poolHeartbeatMs?: number;
  /** `--rebuild-throttle-mode adaptive|fixed` or BERTH_REBUILD_THROTTLE_MODE: the default of this engine's nexuses (docs/nexus.md). */
  rebuildThrottleMode?: RebuildThrottleModeName;
  /** `--local-attach-dir DIR` or BERTH_LOCAL_ATTACH_DIR: serve exports to this node over FUSE (docs/local-attach.md). */
  localAttachDir?: string;
  /** `--local-attach-spares N` or BERTH_LOCAL_ATTACH_SPARES: descriptors the FUSE keeper holds for new attaches; 0: no keeper. */
  localAttachSpares: number;
  /** `--worker-code DIR` or BERTH_WORKER_CODE: the Berth tree the FUSE keeper runs its worker from (default: its own). */
  workerCode?: string;
}

export const DEFAULT_API_LISTEN = '127.0.0.1:9500';
export const DEFAULT_ISCSI_LISTEN = '127.0.0.1:3260';
export const DEFAULT_LOCAL_ATTACH_SPARES = 256;
const MAX_LOCAL_ATTACH_SPARES = 4096;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The flags parseEngineArgs accepts, for `--help` of the engine and of `npm start` (a test keeps them in step). */
export const ENGINE_FLAGS_HELP = `options:
  --data-dir DIR              pools, exports and state (default ./data, or $BERTH_DATA_DIR)
  --api-listen HOST:PORT      HTTP API (default ${DEFAULT_API_LISTEN}; port 0: any free port)
  --iscsi-listen HOST:PORT    iSCSI portal (default ${DEFAULT_ISCSI_LISTEN})
  --replica-listen HOST:PORT  replica protocol for other engines (default: the iSCSI host, any free port)
  --log-level LEVEL           ${LOG_LEVELS.join(', ')} (default info, or $BERTH_LOG_LEVEL)
  --io-mode MODE              ${IO_MODES.join(', ')}: how pool files do I/O (default auto, or $BERTH_IO_MODE)
  --thick-zeroing MODE        ${THICK_ZEROINGS.join(', ')}: eager writes a thick volume's zeros at create, so a database's first flushes there are not slowed (default lazy, or $BERTH_THICK_ZEROING)
  --auth-token-file PATH      demand the bearer token in PATH on the API (or $BERTH_AUTH_TOKEN_FILE; docs/security.md)
  --insecure-no-auth          serve a non-loopback API without a token, on purpose
  --pool-root DIR             pool files may also be created or imported under DIR (repeatable; the data dir always; block devices: /dev)
  --pool-heartbeat-ms MS      pool owner heartbeat (default 1000, or $BERTH_POOL_HEARTBEAT_MS; docs/pool-format.md)
  --local-attach-dir DIR      serve exported volumes to this node over FUSE, files in DIR (off without it; docs/local-attach.md)
  --local-attach-spares N     with --local-attach-dir: /dev/fuse descriptors a keeper process holds so attaches survive a crash of the engine (default ${DEFAULT_LOCAL_ATTACH_SPARES}, or $BERTH_LOCAL_ATTACH_SPARES; 0: no keeper)
  --worker-code DIR           with a keeper: the Berth tree (or a symlink to one) each worker is started from, read again at every start; SIGHUP to the keeper hands over to a new worker from it (default: the keeper's own tree, or $BERTH_WORKER_CODE)
  --rebuild-throttle-mode M   adaptive (rebuilds yield to foreground I/O) or fixed, for nexuses that set none (default adaptive, or $BERTH_REBUILD_THROTTLE_MODE)
  --control-plane URL[,URL…]  register and heartbeat to these control planes (needs --node-id)
  --node-id ID                this node's name at the control plane
  --labels k=v[,k=v…]         topology and media labels (zone, storageGroup, media, initiatorIqn)
  -h, --help                  print this help and exit
  --version                   print the version and exit`;

/** Parses `host:port` or `[v6]:port`; port 0 asks the kernel for a free one. */
export function parseHostPort(text: string, flag: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`${flag} wants HOST:PORT, got '${text}'`);
  return { host: m[1] ?? m[2], port };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Flags of `node src/engine/main.ts`; `src/main.ts` (the quick start) reuses them. */
export function parseEngineArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): EngineArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      'api-listen': { type: 'string' },
      'iscsi-listen': { type: 'string' },
      'replica-listen': { type: 'string' },
      'log-level': { type: 'string' },
      'control-plane': { type: 'string' },
      'node-id': { type: 'string' },
      labels: { type: 'string' },
      'io-mode': { type: 'string' },
      'thick-zeroing': { type: 'string' },
      'auth-token-file': { type: 'string' },
      'insecure-no-auth': { type: 'boolean' },
      'pool-root': { type: 'string', multiple: true },
      'pool-heartbeat-ms': { type: 'string' },
      'rebuild-throttle-mode': { type: 'string' },
      'local-attach-dir': { type: 'string' },
      'local-attach-spares': { type: 'string' },
      'worker-code': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const logLevel = values['log-level'] ?? env.BERTH_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new InvalidArgumentError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const ioMode = values['io-mode'] ?? env.BERTH_IO_MODE ?? 'auto';
  if (!isIoMode(ioMode)) throw new InvalidArgumentError(`--io-mode must be one of ${IO_MODES.join(', ')}`);
  const thickZeroing = values['thick-zeroing'] ?? env.BERTH_THICK_ZEROING ?? 'lazy';
  if (!isThickZeroing(thickZeroing)) throw new InvalidArgumentError(`--thick-zeroing must be one of ${THICK_ZEROINGS.join(', ')}`);
  const throttleMode = values['rebuild-throttle-mode'] ?? env.BERTH_REBUILD_THROTTLE_MODE;
  if (throttleMode !== undefined && !isRebuildThrottleMode(throttleMode)) throw new InvalidArgumentError(`--rebuild-throttle-mode must be one of ${Object.values(RebuildThrottleMode).join(', ')}`);
  const controlPlane = values['control-plane']?.split(',').filter((u) => u.length > 0);
  if (controlPlane !== undefined && !controlPlane.every((u) => /^https?:\/\/[^/\s]+\/?$/.test(u))) {
    throw new InvalidArgumentError('--control-plane wants http://HOST:PORT[,http://HOST:PORT…]');
  }
  const authTokenFile = tokenFilePath(values['auth-token-file'], env);
  const poolHeartbeatMs = parseHeartbeatMs(values['pool-heartbeat-ms'] ?? env.BERTH_POOL_HEARTBEAT_MS);
  const poolRoots = values['pool-root'];
  if (poolRoots?.some((r) => !r.startsWith('/'))) throw new InvalidArgumentError('--pool-root wants an absolute directory');
  const localAttachDir = values['local-attach-dir'] ?? env.BERTH_LOCAL_ATTACH_DIR;
  if (localAttachDir !== undefined && !localAttachDir.startsWith('/')) throw new InvalidArgumentError('--local-attach-dir wants an absolute directory');
  const workerCode = values['worker-code'] ?? env.BERTH_WORKER_CODE;
  if (workerCode !== undefined && !workerCode.startsWith('/')) throw new InvalidArgumentError('--worker-code wants an absolute directory');
  const sparesText = values['local-attach-spares'] ?? env.BERTH_LOCAL_ATTACH_SPARES;
  const localAttachSpares = sparesText === undefined ? DEFAULT_LOCAL_ATTACH_SPARES : Number(sparesText);
  if (!/^\d+$/.test(sparesText ?? '0') || localAttachSpares > MAX_LOCAL_ATTACH_SPARES) {
    throw new InvalidArgumentError(`--local-attach-spares must be an integer from 0 to ${MAX_LOCAL_ATTACH_SPARES}`);
  }
  if (controlPlane !== undefined && values['node-id'] === undefined) throw new InvalidArgumentError('--control-plane needs --node-id');
  if (values['node-id'] !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$/.test(values['node-id'])) {
    throw new InvalidArgumentError('--node-id must be letters, digits and . _ : / -');
  }
  return {
    ...(controlPlane !== undefined ? { controlPlane } : {}),
    ...(values['node-id'] !== undefined ? { nodeId: values['node-id'] } : {}),
    ...(values.labels !== undefined ? { labels: parseLabels(values.labels) } : {}),
    dataDir: values['data-dir'] ?? env.BERTH_DATA_DIR ?? './data',
    apiListen: parseHostPort(values['api-listen'] ?? DEFAULT_API_LISTEN, '--api-listen'),
    iscsiListen: parseHostPort(values['iscsi-listen'] ?? DEFAULT_ISCSI_LISTEN, '--iscsi-listen'),
    ...(values['replica-listen'] !== undefined ? { replicaListen: parseHostPort(values['replica-listen'], '--replica-listen') } : {}),
    logLevel,
    ioMode,
    thickZeroing,
    ...(authTokenFile !== undefined ? { authTokenFile } : {}),
    ...(values['insecure-no-auth'] === true ? { insecureNoAuth: true } : {}),
    ...(poolRoots !== undefined ? { poolRoots } : {}),
    ...(poolHeartbeatMs !== undefined ? { poolHeartbeatMs } : {}),
    ...(throttleMode !== undefined ? { rebuildThrottleMode: throttleMode } : {}),
    ...(localAttachDir !== undefined ? { localAttachDir } : {}),
    localAttachSpares,
    ...(workerCode !== undefined ? { workerCode } : {}),
  };
}

function parseHeartbeatMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < MIN_HEARTBEAT_MS || ms > MAX_HEARTBEAT_MS) {
    throw new InvalidArgumentError(`--pool-heartbeat-ms must be an integer from ${MIN_HEARTBEAT_MS} to ${MAX_HEARTBEAT_MS}`);
  }
  return ms;
}

/** `k=v,k2=v2`; keys and values may not contain ',' and keys not '='. */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').filter((p) => p.length > 0)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`--labels wants k=v pairs, got '${part.slice(0, 64)}'`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}
