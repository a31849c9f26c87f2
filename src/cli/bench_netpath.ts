/**
 * `berth bench --network-paths`: bench/netpath.ts from the command line — one engine in
 * a network namespace, fio over loopback, a veth pair, a bridge and VXLAN, with ratios to
 * host network. It starts its engine and namespaces with the repository's test helpers,
 * so it runs from a Berth checkout (as root, with scripts/build-fio.sh's fio), not from
 * the image; it is loaded only when asked for, so the CLI itself never needs them.
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { BerthError } from '../util/errors.ts';
import { printDocument, type OutputFormat } from './cli_output.ts';
import { parseSize } from './sizes.ts';

export function addNetworkPathOptions(c: Command): Command {
  return c
    .option('--network-paths', 'instead: fio against an engine of its own over loopback, a veth pair, a bridge and VXLAN between network namespaces (root, a Berth checkout)')
    .option('--network-rounds <n>', 'with --network-paths: rounds per row, the median counts', '3');
}

export interface NetworkPathFlags { networkPaths?: boolean; networkRounds?: string; size: string; runtime: string; ramp: string; fio?: string }

export async function runNetworkPaths(f: NetworkPathFlags, format: OutputFormat, log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) throw new BerthError('NOT_AVAILABLE', '--network-paths makes network namespaces and links: run it as root');
  const rounds = Number(f.networkRounds ?? '3');
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new BerthError('INVALID_ARGUMENT', `--network-rounds must be a whole number from 1 to 100, not '${f.networkRounds}'`);
  let netpath: typeof import('../../bench/netpath.ts');
  try {
    netpath = await import('../../bench/netpath.ts');
  } catch (err) {
    throw new BerthError('NOT_AVAILABLE', `--network-paths runs from a Berth checkout (node bench/netpath.ts), not from this install: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = await netpath.runNetpathBench({
    rounds, runtimeS: Number(f.runtime), rampS: Number(f.ramp), volumeBytes: parseSize(f.size), log, ...(f.fio ? { fio: f.fio } : {}),
  });
  if (format !== 'table') {
    printDocument(format, r);
    return;
  }
  const t = netpath.netpathTable(r);
  const table = new Table({ head: t.header, style: { head: [], border: [] } });
  for (const row of t.rows) table.push(row);
  process.stdout.write(`${table.toString()}\n`);
  process.stdout.write(`fio ${r.runtimeS} s per row, median of ${r.rounds} round(s), paths in alternating order, on a ${r.volumeBytes}-byte volume in a /dev/shm pool; `
    + '(×) is the ratio to host network; compare only within one run\n');
}
