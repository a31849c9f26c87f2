import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, utimesSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installCode, treeId } from './code_install.ts';

function fakeTree(root: string, main: string): string {
  mkdirSync(join(root, 'src', 'engine'), { recursive: true });
  mkdirSync(join(root, 'node_modules', 'dep'), { recursive: true });
  mkdirSync(join(root, '.git'), { recursive: true });
  writeFileSync(join(root, 'src', 'engine', 'main.ts'), main);
  writeFileSync(join(root, 'package.json'), '{"type":"module"}');
  writeFileSync(join(root, 'node_modules', 'dep', 'index.js'), 'export {};');
  writeFileSync(join(root, '.git', 'HEAD'), 'ref');
  return root;
}

function withDirs(fn: (d: string) => void): void {
  const d = mkdtempSync(join(tmpdir(), 'berth-code-install-'));
  try { fn(d); } finally { rmSync(d, { recursive: true, force: true }); }
}

test('a tree is copied once under its content id, current switched to it, with its Node alongside', () => withDirs((d) => {
  const src = fakeTree(join(d, 'src-a'), 'console.log(1);');
  const node = join(d, 'node-binary');
  writeFileSync(node, 'ELF');
  const into = join(d, 'code');
  const first = installCode({ source: src, into, keep: 3, node }, 'v24.0.0');
  assert.deepEqual([first.copied, first.switched], [true, true]);
  assert.equal(readlinkSync(join(into, 'current')), first.id);
  const installed = realpathSync(join(into, 'current'));
  assert.ok(existsSync(join(installed, 'src', 'engine', 'main.ts')));
  assert.ok(existsSync(join(installed, 'node_modules', 'dep', 'index.js')));
  assert.ok(existsSync(join(installed, 'node_modules', '.bin', 'node')), 'the installer\'s Node goes along');
  assert.equal(existsSync(join(installed, '.git')), false);
  // The same content again: nothing copied, nothing switched (a restarted installer causes no handover).
  const again = installCode({ source: src, into, keep: 3, node }, 'v24.0.0');
  assert.deepEqual([again.id, again.copied, again.switched], [first.id, false, false]);
}));

test('another content or another Node is another tree; old trees beyond keep are pruned, the current one never', () => withDirs((d) => {
  const node = join(d, 'node-binary');
  writeFileSync(node, 'ELF');
  const into = join(d, 'code');
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const src = fakeTree(join(d, `src-${i}`), `console.log(${i});`);
    const r = installCode({ source: src, into, keep: 2, node }, 'v24.0.0');
    ids.push(r.id);
    // Distinct mtimes, so "newest" is not decided by a clock's resolution.
    utimesSync(join(into, r.id), 1000 + i, 1000 + i);
  }
  assert.equal(new Set(ids).size, 4);
  assert.deepEqual(readdirSync(into).filter((n) => n !== 'current').sort(), [ids[2], ids[3]].sort());
  assert.equal(readlinkSync(join(into, 'current')), ids[3]);
  const src0 = join(d, 'src-0');
  assert.notEqual(treeId(src0, 'v24.0.0'), treeId(src0, 'v24.1.0'), 'a new Node is a new tree');
  assert.ok(statSync(join(into, ids[3]!)).isDirectory());
}));

test('what is not a Berth tree, and keep below 2, are refused', () => withDirs((d) => {
  mkdirSync(join(d, 'empty'));
  assert.throws(() => installCode({ source: join(d, 'empty'), into: join(d, 'code'), keep: 3, node: '/bin/true' }, 'v24'), { code: 'CODE_INSTALL' });
  const src = fakeTree(join(d, 'src'), 'x');
  assert.throws(() => installCode({ source: src, into: join(d, 'code'), keep: 1, node: '/bin/true' }, 'v24'), { code: 'CODE_INSTALL' });
}));
