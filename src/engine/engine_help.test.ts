import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ENGINE_FLAGS_HELP, parseEngineArgs } from './engine_args.ts';
import { CSI_USAGE, parseCsiArgs } from '../csi/csi_args.ts';

/** The long options a parseArgs table in `file` declares (`'name': { type` or `name: { type`). */
function declaredFlags(file: string): string[] {
  const src = readFileSync(new URL(file, import.meta.url), 'utf8');
  return [...src.matchAll(/^\s*'?([a-z][a-z-]*)'?: \{ type: '(?:string|boolean)'/gm)].map((m) => m[1]);
}

function helpFlags(help: string): string[] {
  return [...help.matchAll(/^ {2}(?:-\w, )?--([a-z][a-z-]*)/gm)].map((m) => m[1]);
}

test('the engine help lists exactly the flags the engine accepts', () => {
  const declared = declaredFlags('./engine_args.ts');
  assert.ok(declared.includes('data-dir') && declared.includes('insecure-no-auth'), declared.join(' '));
  const listed = helpFlags(ENGINE_FLAGS_HELP);
  for (const f of declared) assert.ok(listed.includes(f), `--${f} is accepted but not in --help`);
  for (const f of listed.filter((f) => f !== 'help' && f !== 'version')) {
    const argv = f === 'insecure-no-auth' ? [`--${f}`] : f === 'control-plane' ? [`--${f}`, 'http://127.0.0.1:1', '--node-id', 'n'] : [`--${f}`, 'x'];
    try {
      parseEngineArgs(argv, {});
    } catch (err) {
      assert.doesNotMatch((err as Error).message, /Unknown option/, `--help lists --${f}, which the engine does not know`);
    }
  }
});

test('the CSI help lists every flag the CSI driver accepts', () => {
  const listed = helpFlags(CSI_USAGE);
  for (const f of declaredFlags('../csi/csi_args.ts')) assert.ok(listed.includes(f), `--${f} is accepted but not in --help`);
  assert.ok(listed.includes('auth-token-file'));
  assert.throws(() => parseCsiArgs(['--mode', 'bogus']), /--mode must be controller, node or all/);
});
