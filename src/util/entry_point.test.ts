import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BERTH_VERSION, helpOrVersion } from './entry_point.ts';

test('--version is package.json\'s version; --help and -h print the usage, before any other flag is checked', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(BERTH_VERSION, pkg.version);
  assert.deepEqual(helpOrVersion(['--version'], 'berth-engine', 'u'), { kind: 'version', text: `berth-engine ${pkg.version}\n` });
  assert.deepEqual(helpOrVersion(['--bogus', '--help'], 'x', 'usage: x'), { kind: 'help', text: 'usage: x\n' });
  assert.deepEqual(helpOrVersion(['-h'], 'x', 'usage: x\n'), { kind: 'help', text: 'usage: x\n' });
  assert.equal(helpOrVersion(['--data-dir', 'd'], 'x', 'u'), undefined);
  assert.equal(helpOrVersion(['--', '--help'], 'x', 'u'), undefined);
});
