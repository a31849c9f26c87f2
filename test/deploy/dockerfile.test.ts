/**
 * No Docker daemon runs in CI, so the image is checked structurally: stages and
 * instructions, that every COPY source exists and survives .dockerignore, that every
 * file and package the entry points import reaches the image (production dependencies
 * only: the image installs with `npm ci --omit=dev`), and that the host tools the
 * manifests and the CSI driver call are installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { REPO, allContainers, overlayNames, renderOverlay, workloads } from './render_kit.ts';

interface Instruction {
  op: string;
  args: string;
}

function instructions(text: string): Instruction[] {
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  return logical.map((l) => {
    const i = l.search(/\s/);
    return { op: l.slice(0, i).toUpperCase(), args: l.slice(i + 1).trim() };
  });
}

/** .dockerignore: patterns in order, the last one matching a path decides; `!` re-includes. */
function dockerIgnored(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const glob = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const re = new RegExp(`^${glob.split('/').map((seg) => seg === '**' ? '(?:.+)' : seg
      .replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('/').replace('/(?:.+)', '(?:/.+)?')}(?:/.*)?$`);
    if (re.test(path)) ignored = !negate;
  }
  return ignored;
}

const dockerfile = instructions(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const ignorePatterns = readFileSync(join(REPO, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const runText = dockerfile.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ');

test('the Dockerfile has stages from a Node 24 image, an ENTRYPOINT and a CMD', () => {
  assert.ok(['FROM', 'ARG'].includes(dockerfile[0].op), 'starts with FROM (or the ARGs FROM uses)');
  const froms = dockerfile.filter((i) => i.op === 'FROM');
  assert.ok(froms.length >= 2, 'multi-stage');
  const args = new Map(dockerfile.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]));
  for (const f of froms) {
    const image = f.args.split(/\s+/)[0].replace(/^\$\{(\w+)\}$/, (_, name: string) => args.get(name) ?? '');
    assert.match(image, /^node:24[.\w-]*$/, `FROM ${f.args}`);
  }
  const lastFrom = dockerfile.lastIndexOf(froms[froms.length - 1]);
  const final = dockerfile.slice(lastFrom);
  assert.ok(final.some((i) => i.op === 'ENTRYPOINT'), 'the final stage has an ENTRYPOINT');
  assert.ok(final.some((i) => i.op === 'CMD'), 'the final stage has a CMD');
  assert.match(runText, /npm ci --omit=dev/);
});

test('every COPY source exists, survives .dockerignore, and every --from names a stage', () => {
  const stages = dockerfile.filter((i) => i.op === 'FROM').map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1]).filter((s) => s !== undefined);
  const copies = dockerfile.filter((i) => i.op === 'COPY' || i.op === 'ADD');
  assert.ok(copies.length >= 3);
  for (const c of copies) {
    const words = c.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const sources = paths.slice(0, -1);
    assert.ok(sources.length > 0, `COPY ${c.args}`);
    if (from !== undefined) {
      assert.ok(stages.includes(from), `COPY --from=${from}: no such stage`);
      continue;
    }
    for (const s of sources) {
      const p = s.replace(/^\.\//, '').replace(/\/$/, '');
      assert.ok(existsSync(join(REPO, p)), `COPY source ${s} does not exist`);
      assert.ok(!dockerIgnored(ignorePatterns, p), `COPY source ${s} is excluded by .dockerignore`);
    }
  }
});

/**
 * Modules loaded only on request by a dynamic import whose failure the caller turns into
 * NOT_AVAILABLE: they run from a Berth checkout (they start engines and network namespaces
 * with the test helpers), never from the image. Each entry names the command that loads it.
 */
const CHECKOUT_ONLY = new Map<string, string>([
  ['bench/netpath.ts', 'berth bench --network-paths (src/cli/bench_netpath.ts)'],
]);

/** Relative imports and bare packages reachable from the entry points. */
function importGraph(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(join(REPO, file), 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|(?:^|\n)import\s+'([^']+)'/g)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.')) {
        const target = relative(REPO, join(REPO, dirname(file), spec));
        if (m[2] !== undefined && CHECKOUT_ONLY.has(target)) continue;
        todo.push(target);
      }
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  }
  return { files, packages };
}

test('every file and package the entry points import reaches the image', () => {
  const entries = ['src/main.ts', 'src/engine/main.ts', 'src/csi/main.ts', 'src/control/main.ts', 'src/cli/main.ts'];
  const { files, packages } = importGraph(entries);
  assert.ok(files.size > 50, `only ${files.size} files reached`);
  for (const f of files) assert.ok(!dockerIgnored(ignorePatterns, f), `${f} is imported at run time but excluded by .dockerignore`);
  assert.ok(!dockerIgnored(ignorePatterns, 'proto/csi.proto'), 'the CSI driver loads proto/csi.proto');
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const p of packages) assert.ok(p in pkg.dependencies, `${p} is imported at run time but is not a production dependency (npm ci --omit=dev drops it)`);
  // Tests stay out of the image.
  const tests = readdirSync(join(REPO, 'src', 'pool')).filter((n) => n.endsWith('.test.ts'));
  assert.ok(tests.length > 0 && dockerIgnored(ignorePatterns, `src/pool/${tests[0]}`), 'unit tests are excluded');
  assert.ok(statSync(join(REPO, 'package-lock.json')).isFile(), 'npm ci needs the lockfile');
});

test('the image installs the host tools the CSI driver runs and the manifests start', () => {
  for (const pkg of ['open-iscsi', 'e2fsprogs', 'xfsprogs', 'util-linux', 'qemu-utils', 'qemu-system-common', 'qemu-block-extra', 'tini']) {
    assert.match(runText, new RegExp(`(^|\\s)${pkg}(\\s|$)`), `apt-get install lacks ${pkg}`);
  }
  const entrypoint = dockerfile.filter((i) => i.op === 'ENTRYPOINT').at(-1)?.args ?? '';
  const programs = new Set<string>([(JSON.parse(entrypoint) as string[])[0]]);
  for (const overlay of overlayNames()) {
    for (const w of workloads(renderOverlay(overlay))) {
      for (const c of allContainers(w.pod)) if (/\bberth\b/.test(c.image ?? '') && c.command) programs.add(c.command[0]);
    }
  }
  const provided: Record<string, string> = { '/usr/bin/tini': 'tini', node: 'node:24' };
  for (const p of programs) {
    const from = provided[p];
    assert.ok(from !== undefined, `the manifests start ${p}; nothing in the image provides it`);
    if (from === 'tini') assert.match(runText, /\stini\s/);
  }
});
