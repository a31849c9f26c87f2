/**
 * Every command the docs show works as written: each `berth …` line names real
 * subcommands and flags (checked against the CLI's commander definitions), each engine,
 * control-plane and CSI line uses flags those processes accept, no doc asks for
 * `node src/…` (the system's node cannot run TypeScript), and the safe lines
 * (`--help`, `--version`) are run for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { buildProgram } from '../../src/cli/main.ts';
import { rewriteExportShorthand } from '../../src/cli/commands_export.ts';
import { buildPluginProgram } from '../../src/cli/kubectl_main.ts';
import { engineExecOf } from '../../src/cli/kubectl_exec.ts';
import { ENGINE_FLAGS_HELP } from '../../src/engine/engine_args.ts';
import { CSI_USAGE } from '../../src/csi/csi_args.ts';
import { repoRoot, run } from '../helpers/tools.ts';
import { checkCliWords, docCommands, flagWords, markdownFiles, shellCommands, usageFlags } from './doc_commands.ts';

const commands = docCommands(markdownFiles(repoRoot));
const where = (c: { file: string; line: number }): string => `${relative(repoRoot, c.file)}:${c.line}`;
const systemEnv = { ...process.env, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/** The words after the program, for each documented command of `program`. */
function invocations(match: (w: string[]) => number): { at: string; words: string[] }[] {
  const out: { at: string; words: string[] }[] = [];
  for (const c of commands) {
    for (const words of shellCommands(c.text)) {
      const skip = match(words);
      if (skip > 0) out.push({ at: where(c), words: words.slice(skip) });
    }
  }
  return out;
}

const cliLines = invocations((w) => (w[0] === 'berth' || w[0] === 'bin/berth' ? 1 : 0));

test('every documented berth command and flag exists in the CLI', () => {
  assert.ok(cliLines.length >= 30, `only ${cliLines.length} berth commands found in the docs`);
  const program = buildProgram();
  const problems = cliLines.flatMap(({ at, words }) => checkCliWords(program, rewriteExportShorthand(words)).map((p) => `${at}: ${p}`));
  // kubectl berth runs the engine-local commands (and --node) in an engine pod with the CLI; the rest are its own.
  const plugin = buildPluginProgram([]);
  for (const { at, words } of invocations((w) => (w[0] === 'kubectl' && w[1] === 'berth' ? 2 : 0))) {
    const exec = engineExecOf(words);
    const found = exec ? checkCliWords(program, rewriteExportShorthand(exec.args)) : checkCliWords(plugin, words);
    problems.push(...found.map((p) => `${at}: ${p}`));
  }
  assert.deepEqual(problems, []);
});

test('docs/cli.md documents every global option and every command', async () => {
  const { readFileSync } = await import('node:fs');
  const cliDoc = readFileSync(join(repoRoot, 'docs', 'cli.md'), 'utf8');
  const program = buildProgram();
  const missing: string[] = [];
  for (const o of program.options) if (o.long !== undefined && !cliDoc.includes(o.long)) missing.push(o.long);
  for (const c of program.commands) if (!new RegExp(`berth (?:-\\S+ \\S+ )*${c.name()}\\b`).test(cliDoc)) missing.push(c.name());
  assert.deepEqual(missing, []);
});

test('the checker catches what it should: an unknown subcommand or flag', () => {
  const program = buildProgram();
  assert.deepEqual(checkCliWords(program, ['volume', 'create', 'p/v', '--size', '1G']), []);
  assert.deepEqual(checkCliWords(program, ['volume', 'grow', 'p/v']), ["'berth volume' has no subcommand 'grow'"]);
  assert.deepEqual(checkCliWords(program, ['volume', 'create', 'p/v', '--sizeBytes', '1G']), ["'berth volume create' has no option --sizeBytes"]);
  assert.deepEqual(checkCliWords(program, ['--token-file', 'f', 'pool', 'ls']), []);
  assert.deepEqual(flagWords(['[--thin|--thick]', '--size=1G', 'FILE|DEVICE']), ['--thin', '--thick', '--size']);
});

test('no doc asks for node src/…: the system node cannot run TypeScript; the bin/ wrappers can', () => {
  const raw = invocations((w) => (w[0] === 'node' && (w[1] ?? '').startsWith('src/') ? 1 : 0));
  assert.deepEqual(raw.map((r) => `${r.at}: node ${r.words.join(' ')}`), []);
});

test('documented engine, quick-start, control-plane and CSI flags exist', { timeout: 120_000 }, async () => {
  const control = await run(join(repoRoot, 'bin', 'berth-control-plane'), ['--help'], { env: systemEnv, timeoutMs: 60_000 });
  const accepted: [(w: string[]) => number, Set<string>][] = [
    [(w) => (w[0] === 'bin/berth-engine' ? 1 : w[0] === 'npm' && w[1] === 'start' ? 2 : 0), usageFlags(ENGINE_FLAGS_HELP)],
    [(w) => (w[0] === 'bin/berth-control-plane' ? 1 : 0), usageFlags(control.stdout)],
    [(w) => (w[0] === 'bin/berth-csi' ? 1 : 0), usageFlags(CSI_USAGE)],
  ];
  const problems: string[] = [];
  let seen = 0;
  for (const [match, flags] of accepted) {
    for (const { at, words } of invocations(match)) {
      seen++;
      for (const f of flagWords(words)) if (!flags.has(f) && f !== '-h') problems.push(`${at}: no option ${f} in ${words.join(' ')}`);
    }
  }
  assert.ok(seen >= 4, `only ${seen} engine/control-plane/CSI commands found in the docs`);
  assert.deepEqual(problems, []);
});

test('the safe documented commands (--help, --version) run and exit 0 as written', { timeout: 300_000 }, async () => {
  const safe = commands.flatMap((c) => shellCommands(c.text).map((w) => ({ at: where(c), words: w })))
    .filter(({ words }) => /^bin\/berth(-engine|-control-plane|-csi)?$/.test(words[0]) && words.length >= 2 && ['--help', '--version'].includes(words.at(-1)!));
  assert.ok(safe.length >= 2, 'the docs show --help or --version somewhere');
  for (const { at, words } of safe) {
    const r = await run(join(repoRoot, words[0]), words.slice(1), { cwd: repoRoot, env: systemEnv, check: false, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${at}: ${words.join(' ')}\n${r.stderr}`);
  }
});
