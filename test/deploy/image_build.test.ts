/**
 * Two ways to build one image: the Dockerfile (users, with a Docker daemon) and
 * scripts/build-image.sh (machines with neither a daemon nor a registry, e.g. the lab).
 * They must give the same image: the same Debian packages, the same app paths under the
 * same WORKDIR, the same environment, entry point and command, the same CLI wrapper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './render_kit.ts';

const dockerText = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const scriptPath = join(REPO, 'scripts', 'build-image.sh');
const script = readFileSync(scriptPath, 'utf8');

/** Dockerfile instructions of the final stage, continuation lines joined. */
function finalStage(): { op: string; args: string }[] {
  const lines = dockerText.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const all = lines.map((l) => ({ op: l.split(/\s/)[0].toUpperCase(), args: l.slice(l.search(/\s/) + 1).trim() }));
  const from = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(from);
}

/** A bash array assignment `NAME=( … )`, comments dropped. */
function bashArray(name: string): string[] {
  const m = new RegExp(`^${name}=\\(([^)]*)\\)`, 'm').exec(script);
  assert.ok(m, `build-image.sh has no ${name}=( … )`);
  return m[1].split('\n').map((l) => l.replace(/#.*/, '')).join(' ').split(/\s+/).filter((w) => w !== '');
}

/** A bash scalar assignment `NAME='…'` or `NAME=…`. */
function bashScalar(name: string): string {
  const m = new RegExp(`^${name}=(?:'([^']*)'|(\\S+))`, 'm').exec(script);
  assert.ok(m, `build-image.sh has no ${name}=`);
  return m[1] ?? m[2];
}

const stage = finalStage();

test('build-image.sh installs exactly the Debian packages the Dockerfile installs', () => {
  const run = stage.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ');
  const m = /apt-get install\s+((?:-\S+\s+)*)([^&]+)/.exec(run);
  assert.ok(m, 'the Dockerfile runs apt-get install');
  const fromDocker = m[2].split(/\s+/).filter((w) => w !== '' && !w.startsWith('-')).sort();
  const fromScript = bashArray('PACKAGES').sort();
  assert.ok(fromScript.includes('qemu-system-common') && fromScript.includes('tini'), 'the user-space attacher and the init are in the list');
  assert.deepEqual(fromScript, fromDocker);
});

test('the same entry point, command, working directory and environment', () => {
  const last = (op: string) => stage.filter((i) => i.op === op).at(-1)?.args;
  assert.deepEqual(JSON.parse(bashScalar('ENTRYPOINT')), JSON.parse(last('ENTRYPOINT') ?? 'null'));
  assert.deepEqual(JSON.parse(bashScalar('CMD')), JSON.parse(last('CMD') ?? 'null'));
  assert.equal(bashScalar('WORKDIR'), last('WORKDIR'));
  const dockerEnv = new Map(stage.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]] as const)));
  const scriptEnv = new Map((JSON.parse(bashScalar('ENV')) as string[]).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
  assert.ok(dockerEnv.size > 0);
  for (const [k, v] of dockerEnv) assert.equal(scriptEnv.get(k), v, `ENV ${k}`);
  assert.match(scriptEnv.get('PATH') ?? '', /(^|:)\/usr\/local\/bin(:|$)/, 'node and berth live in /usr/local/bin');
});

test('the same app paths in WORKDIR, production node_modules, and the same berth CLI wrapper', () => {
  const copies = stage.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/));
  const fromContext = copies.filter((w) => !w.some((x) => x.startsWith('--from='))).flatMap((w) => w.slice(0, -1)).map((p) => p.replace(/\/$/, '')).sort();
  assert.deepEqual(bashArray('APP_PATHS').sort(), fromContext);
  assert.ok(copies.some((w) => w.some((x) => x.startsWith('--from=')) && w.includes('/opt/berth/node_modules')), 'the Dockerfile copies the deps stage');
  assert.match(dockerText, /npm ci --omit=dev/);
  assert.match(script, /npm ls --omit=dev --all --parseable/, 'the script copies the same production tree');
  const wrapper = /printf '(#!\/bin\/sh\\nexec node [^']+)'/;
  assert.equal(wrapper.exec(script)?.[1], wrapper.exec(dockerText)?.[1], 'the berth wrapper');
  assert.match(script, /find "\$APP\/src" "\$APP\/bench" -name '\*\.test\.ts' -delete/, 'unit tests stay out, as .dockerignore keeps them out');
});

test('build-image.sh is valid bash and writes an archive with Entrypoint and Cmd in its config', () => {
  execFileSync('bash', ['-n', scriptPath]);
  // Kubernetes `args` replace Cmd and keep Entrypoint: both must be in the config.
  assert.match(script, /"Entrypoint":%s,"Cmd":%s/);
  execFileSync('bash', ['-n', join(REPO, 'scripts', 'image-archive.sh')]);
  assert.match(script, /ctr -n k8s\.io images import/);
});
