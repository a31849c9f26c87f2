import { pino, type Logger } from 'pino';
import { prettyDestination } from './log_pretty.ts';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

/**
 * Readable lines on a terminal, JSON lines otherwise (a pipe, a file, a collector);
 * BERTH_LOG_FORMAT=json|pretty chooses explicitly.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, isTty: boolean = process.stdout.isTTY === true): LogFormat {
  if (env.BERTH_LOG_FORMAT === 'json' || env.BERTH_LOG_FORMAT === 'pretty') return env.BERTH_LOG_FORMAT;
  return isTty ? 'pretty' : 'json';
}

/** One logger per process; components take a child with their own `component` field. */
export function createLogger(opts: { level?: string; name?: string; format?: LogFormat } = {}): Logger {
  const options = {
    name: opts.name ?? 'berth',
    level: opts.level ?? process.env.BERTH_LOG_LEVEL ?? 'info',
    // Secrets must never reach a log line, even by accident through an object dump.
    redact: { paths: ['*.secret', '*.chapSecret', '*.mutualSecret', 'secret', '*.password'], censor: '[redacted]' },
  };
  if ((opts.format ?? logFormat()) === 'pretty') return pino(options, prettyDestination(process.stdout));
  return pino(options);
}

/** A logger that discards everything: for unit tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
