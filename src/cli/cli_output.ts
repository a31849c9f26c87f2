import Table from 'cli-table3';
import { stringify as toYaml } from 'yaml';
import { BerthError } from '../util/errors.ts';

/** `berth` takes table or json; `kubectl berth` also yaml (the same document as json). */
export type OutputFormat = 'table' | 'json' | 'yaml';

export interface Column<T> {
  header: string;
  value: (row: T) => string | number;
}

/** Writes rows as a table for people, or `json` (the API's own document) for scripts. */
export function printRows<T>(format: OutputFormat, json: unknown, rows: T[], columns: Column<T>[]): void {
  if (format !== 'table') {
    printDocument(format, json);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const table = new Table({ head: columns.map((c) => c.header), style: { head: [], border: [] } });
  for (const r of rows) table.push(columns.map((c) => String(c.value(r))));
  process.stdout.write(table.toString() + '\n');
}

/** One object as `key  value` lines, or as JSON. */
export function printObject(format: OutputFormat, obj: object, fields: [string, string | number][]): void {
  if (format !== 'table') {
    printDocument(format, obj);
    return;
  }
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A document as JSON or YAML (YAML for the table format too: callers print tables themselves). */
export function printDocument(format: OutputFormat, value: unknown): void {
  if (format === 'json') printJson(value);
  else process.stdout.write(toYaml(value));
}

export function parseOutputFormat(text: string, allowed: readonly OutputFormat[] = ['table', 'json']): OutputFormat {
  const f = allowed.find((a) => a === text);
  if (f !== undefined) return f;
  const names = allowed.length === 2 ? allowed.join(' or ') : `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`;
  throw new BerthError('INVALID_ARGUMENT', `--output must be ${names}, not '${text}'`);
}

/** `pool/volume` as given on the command line. */
export function parseVolumeRef(text: string): { pool: string; volume: string } {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(text);
  if (!m) throw new BerthError('INVALID_ARGUMENT', `expected POOL/VOLUME, got '${text}'`);
  return { pool: m[1], volume: m[2] };
}
