/**
 * deploy/kubectl-berth against a stand-in `kubectl` that records its arguments: the
 * plugin picks the engine pod (of a node, when asked) and runs the CLI in it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './render_kit.ts';

let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-kubectl-'));
  // Prints $PODS for `get`, records every call one per line.
  writeFileSync(join(dir, 'kubectl'), '#!/bin/sh\necho "$*" >> "$CALLS"\n[ "$1" = get ] && printf "%s" "$PODS"\nexit 0\n');
  chmodSync(join(dir, 'kubectl'), 0o755);
});

after(() => rmSync(dir, { recursive: true, force: true }));

function plugin(args: string[], pods: string): { status: number | null; stderr: string; calls: string[] } {
  const calls = join(dir, `calls-${Math.random().toString(36).slice(2)}`);
  writeFileSync(calls, '');
  const r = spawnSync(join(REPO, 'deploy', 'kubectl-berth'), args, {
    encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin`, CALLS: calls, PODS: pods },
  });
  return { status: r.status, stderr: r.stderr, calls: readFileSync(calls, 'utf8').trim().split('\n').filter((l) => l !== '') };
}

test('runs the CLI in the first engine pod', () => {
  const r = plugin(['pool', 'list', '-o', 'json'], 'berth-engine-a berth-engine-b');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.calls[0], /^get pods -n berth-system -l app\.kubernetes\.io\/name=berth,app\.kubernetes\.io\/component=engine /);
  assert.equal(r.calls[1], 'exec -n berth-system -c engine berth-engine-a -- berth pool list -o json');
});

test('--node picks that node\'s engine', () => {
  const r = plugin(['--node', 'storage-2', 'volume', 'list'], 'berth-engine-x');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.calls[0], /--field-selector spec\.nodeName=storage-2/);
  assert.equal(r.calls[1], 'exec -n berth-system -c engine berth-engine-x -- berth volume list');
});

test('no engine pod: a clear error and no exec', () => {
  const r = plugin(['--node', 'nowhere', 'pool', 'list'], '');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no Berth engine pod on node nowhere in namespace berth-system/);
  assert.equal(r.calls.length, 1);
});

test('--node without a name is a usage error', () => {
  const r = plugin(['--node'], 'berth-engine-a');
  assert.equal(r.status, 2);
  assert.deepEqual(r.calls, []);
});
