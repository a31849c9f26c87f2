import { pino, type Logger } from 'pino';

export type { Logger };

/** One logger per process; components take a child with their own `component` field. */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: opts.name ?? 'berth',
    level: opts.level ?? process.env.BERTH_LOG_LEVEL ?? 'info',
    // Secrets must never reach a log line, even by accident through an object dump.
    redact: { paths: ['*.secret', '*.chapSecret', '*.mutualSecret', 'secret', '*.password'], censor: '[redacted]' },
  });
}

/** A logger that discards everything: for unit tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
