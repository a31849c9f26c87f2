import { parseArgs } from 'node:util';
import { InvalidArgumentError } from './errors.ts';

export interface HostPort {
  host: string;
  port: number;
}

export interface EngineArgs {
  dataDir: string;
  apiListen: HostPort;
  iscsiListen: HostPort;
  logLevel: string;
}

export const DEFAULT_API_LISTEN = '127.0.0.1:9500';
export const DEFAULT_ISCSI_LISTEN = '127.0.0.1:3260';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

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
      'log-level': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const logLevel = values['log-level'] ?? env.BERTH_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new InvalidArgumentError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return {
    dataDir: values['data-dir'] ?? env.BERTH_DATA_DIR ?? './data',
    apiListen: parseHostPort(values['api-listen'] ?? DEFAULT_API_LISTEN, '--api-listen'),
    iscsiListen: parseHostPort(values['iscsi-listen'] ?? DEFAULT_ISCSI_LISTEN, '--iscsi-listen'),
    logLevel,
  };
}
