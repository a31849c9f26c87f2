/**
 * Log lines for a person at a terminal: `HH:MM:SS LEVEL message key=value …` instead of
 * JSON (which stays the format whenever stdout is not a terminal, for collectors).
 * Pure: formats one pino JSON line.
 */

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's own fields, shown in the line's head or not at all. */
const HEAD_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v', 'err']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

function clock(ms: unknown): string {
  if (typeof ms !== 'number') return '--:--:--';
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** One JSON log line as readable text (with a trailing newline); a line that is not JSON passes through. */
export function formatLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof o.level === 'number' ? o.level : 30;
  const parts = [clock(o.time), (LEVEL_NAMES[level] ?? String(level)).padEnd(5), String(o.msg ?? '')];
  for (const [k, v] of Object.entries(o)) if (!HEAD_FIELDS.has(k) && v !== undefined) parts.push(`${k}=${value(v)}`);
  let out = parts.join(' ');
  const err = o.err as { type?: string; code?: unknown; message?: string; stack?: string } | undefined;
  if (err !== undefined && err !== null && typeof err === 'object') {
    out += ` error=${value(`${typeof err.code === 'string' ? `${err.code}: ` : ''}${err.message ?? err.type ?? ''}`)}`;
    // A stack is for someone debugging an unexpected failure, not for a warning.
    if (level >= 50 && typeof err.stack === 'string') out += `\n${err.stack.split('\n').slice(1).join('\n')}`;
  }
  return `${out}\n`;
}

/** A pino destination that writes formatted lines to `sink`. */
export function prettyDestination(sink: { write(s: string): unknown }): { write(line: string): void } {
  return { write: (line: string) => { sink.write(formatLogLine(line)); } };
}
