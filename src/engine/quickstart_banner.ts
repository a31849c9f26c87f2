import { formatBytes } from '../cli/sizes.ts';
import type { ExportView, PoolView } from './engine_types.ts';

/**
 * What the quick start (`npm start`, src/main.ts) prints: where Berth listens, what it
 * brought back from the data directory, and commands that work as shown. Pure.
 */
export interface BannerInput {
  apiUrl: string;
  portal: string;
  dataDir: string;
  demo: ExportView;
  pools: readonly PoolView[];
  exports: readonly ExportView[];
  /** Pool and export names (pool/volume) that existed before this start: re-imported, not created. */
  broughtBack: { pools: readonly string[]; exports: readonly string[] };
}

const DEFAULT_API = 'http://127.0.0.1:9500';

function poolLine(p: PoolView): string {
  if (p.state === 'faulted') return `${p.name}  FAULTED: ${p.reason}`;
  return `${p.name}  ${formatBytes(p.capacityBytes)}, ${p.volumeCount} volume${p.volumeCount === 1 ? '' : 's'}, ${formatBytes(p.freeBytes)} free`;
}

export function quickstartBanner(b: BannerInput): string {
  const cli = b.apiUrl === DEFAULT_API ? 'bin/berth' : `bin/berth --api ${b.apiUrl}`;
  const back = b.broughtBack;
  const lines = ['', 'Berth is running.',
    `  API           ${b.apiUrl}   (docs/api.md; OpenAPI at ${b.apiUrl}/v1/openapi.json)`,
    `  iSCSI portal  ${b.portal}`,
    `  data          ${b.dataDir}`];
  if (back.pools.length > 0 || back.exports.length > 0) {
    lines.push('', `Brought back from ${b.dataDir}: ${back.pools.length} pool${back.pools.length === 1 ? '' : 's'}, ${back.exports.length} export${back.exports.length === 1 ? '' : 's'}.`);
  }
  lines.push('  pools');
  for (const p of b.pools) lines.push(`    ${poolLine(p)}${back.pools.includes(p.name) ? '' : '   (new)'}`);
  lines.push('  exports');
  for (const e of b.exports) {
    const key = `${e.pool}/${e.volume}`;
    const state = e.state === 'online' ? '' : `   FAULTED: ${e.reason ?? ''}`;
    lines.push(`    ${key}  ${e.url}${back.exports.includes(key) ? '' : '   (new)'}${state}`);
  }
  lines.push('',
    `Demo volume ${b.demo.pool}/${b.demo.volume} (any initiator may log in). Try it from another terminal:`,
    `  iscsi-ls -s iscsi://${b.demo.portal}`,
    `  qemu-img info ${b.demo.url}`,
    `  qemu-io -f raw -c 'write -P 0xab 0 1M' -c 'read -P 0xab 0 1M' ${b.demo.url}`,
    `  ${cli} volume list`,
    `  ${cli} export list`,
    '',
    'Ctrl-C stops Berth cleanly; `npm start` again brings back the same pools, volumes and exports.',
    '');
  return lines.join('\n');
}

/** The line printed after a clean stop: what was closed and saved. */
export function stoppedMessage(signal: string, pools: readonly string[], exports: readonly string[], sessions: number): string {
  const list = (xs: readonly string[]): string => (xs.length === 0 ? 'none' : xs.join(', '));
  return `\nBerth stopped (${signal}): closed ${sessions} iSCSI session${sessions === 1 ? '' : 's'} and the API; `
    + `exports closed: ${list(exports)}; pools flushed and checkpointed: ${list(pools)}. Data stays in place for the next start.\n`;
}
