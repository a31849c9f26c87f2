/**
 * `node src/engine/install_code_main.ts --into DIR [--keep N]`: installs this tree where
 * a FUSE keeper started with `--worker-code DIR/current` runs its workers from, and
 * switches `current` to it (src/engine/code_install.ts). Prints one JSON line. In
 * Kubernetes the berth-engine-code DaemonSet runs it on every storage node
 * (deploy/components/local-attach).
 */
import { parseArgs } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCode } from './code_install.ts';

const USAGE = 'usage: node src/engine/install_code_main.ts --into DIR [--keep N]';

try {
  const { values } = parseArgs({ options: { into: { type: 'string' }, keep: { type: 'string', default: '3' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.into === undefined || !values.into.startsWith('/')) throw new Error('--into wants an absolute directory');
  const source = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const r = installCode({ source, into: values.into, keep: Number(values.keep), node: process.execPath }, process.version);
  process.stdout.write(`${JSON.stringify({ msg: r.switched ? 'engine code installed and made current' : 'engine code already current', into: values.into, ...r })}\n`);
} catch (err) {
  process.stderr.write(`install_code: ${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
