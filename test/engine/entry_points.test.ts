/**
 * What a newcomer types first: every entry point answers --help (exit 0, a usage text
 * naming its flags) and --version (package.json's version), also through the bin/
 * wrappers with only the system's PATH (whose node may be too old to run .ts files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeBin, repoRoot, run } from '../helpers/tools.ts';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
// No node_modules/.bin: the wrappers must find the project's Node themselves.
const systemEnv = { ...process.env, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

const ENTRIES = [
  { wrapper: 'berth-engine', file: 'src/engine/main.ts', flags: ['--data-dir', '--api-listen', '--iscsi-listen', '--auth-token-file'] },
  { wrapper: 'berth-control-plane', file: 'src/control/main.ts', flags: ['--listen', '--store', '--auth-token-file'] },
  { wrapper: 'berth-csi', file: 'src/csi/main.ts', flags: ['--endpoint', '--mode', '--control-plane', '--auth-token-file'] },
];

for (const e of ENTRIES) {
  test(`${e.wrapper} and node ${e.file} answer --help and --version`, { timeout: 120_000 }, async () => {
    for (const [cmd, args] of [[join(repoRoot, 'bin', e.wrapper), []], [nodeBin, [e.file]]] as const) {
      const help = await run(cmd, [...args, '--help'], { cwd: repoRoot, env: systemEnv, timeoutMs: 60_000 });
      assert.match(help.stdout, new RegExp(`^usage: bin/${e.wrapper} `));
      for (const f of [...e.flags, '--help', '--version']) assert.ok(help.stdout.includes(f), `${e.wrapper} --help lacks ${f}`);
      const v = await run(cmd, [...args, '--version'], { cwd: repoRoot, env: systemEnv, timeoutMs: 60_000 });
      assert.equal(v.stdout, `${e.wrapper} ${version}\n`);
    }
    // A wrong flag says so and points at --help, with the usage-error status.
    const bad = await run(join(repoRoot, 'bin', e.wrapper), ['--no-such-flag'], { cwd: repoRoot, env: systemEnv, check: false, timeoutMs: 60_000 });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--no-such-flag[\s\S]*--help lists the options/);
  });
}

test('berth --version and --help; npm start -- --help', { timeout: 120_000 }, async () => {
  const v = await run(join(repoRoot, 'bin', 'berth'), ['--version'], { env: systemEnv });
  assert.equal(v.stdout, `berth ${version}\n`);
  const h = await run(join(repoRoot, 'bin', 'berth'), ['--help'], { env: systemEnv });
  assert.match(h.stdout, /--token-file <path>/);
  const qs = await run('npm', ['start', '--silent', '--', '--help'], { cwd: repoRoot, env: systemEnv, timeoutMs: 60_000 });
  assert.match(qs.stdout, /^usage: npm start -- \[options\]/m);
  assert.match(qs.stdout, /--data-dir DIR/);
  assert.match(qs.stdout, /npm itself then\s+reports status 130/);
});
