/**
 * Reads the commands shown in the docs' fenced code blocks and checks them against the
 * real command-line definitions. Pure except for reading files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';

export interface DocCommand {
  file: string;
  line: number;
  text: string;
}

/** Every command line in the fenced code blocks of `files` (continuation lines joined; `$ ` prompts dropped). */
export function docCommands(files: readonly string[]): DocCommand[] {
  const out: DocCommand[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    let fenced = false;
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].startsWith('```')) { fenced = !fenced; continue; }
      if (!fenced) continue;
      const start = i;
      let text = lines[i].trim().replace(/^\$ /, '');
      while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1).trim()} ${lines[++i].trim()}`;
      if (text !== '') out.push({ file, line: start + 1, text });
    }
  }
  return out;
}

export function markdownFiles(root: string): string[] {
  const docs = join(root, 'docs');
  return [join(root, 'README.md'), ...readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => join(docs, f))];
}

/** The words of one shell command: the comment dropped, `&&` and `|` split into separate commands. */
export function shellCommands(text: string): string[][] {
  const noComment = text.replace(/\s+#.*$/, '');
  return noComment.split(/\s(?:&&|\|\|?|;)\s/).map((part) => part.trim().split(/\s+/).filter((w) => w !== ''));
}

/** Option words of a usage line: `[--thin|--thick]` gives --thin and --thick; `--size=1G` gives --size. */
export function flagWords(words: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    for (const part of w.replace(/[[\]]/g, '').split('|')) {
      const m = /^(--?[A-Za-z][\w-]*)/.exec(part);
      if (m !== null && part.startsWith('-')) out.push(m[1]);
    }
  }
  return out;
}

/** The long flags a usage text lists at the start of its lines (`  --flag`, `  -h, --help`). */
export function usageFlags(usage: string): Set<string> {
  return new Set([...usage.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]));
}

/**
 * Checks one `berth …` command (words after `berth`) against the CLI's commander
 * definitions: each subcommand word must exist (or be an alias) until the first argument,
 * and each flag must belong to the command reached or to one above it.
 */
export function checkCliWords(program: Command, words: readonly string[]): string[] {
  const problems: string[] = [];
  let cmd = program;
  const chain = [program];
  let descending = true;
  let skipValue = false;
  for (const w of words) {
    if (skipValue) { skipValue = false; continue; }
    if (w.startsWith('-') || w.startsWith('[-')) {
      // An option that takes a value (`--api URL`) consumes the next word, unless given as --opt=value.
      const flag = w.replace(/^\[/, '').split(/[=|\]]/)[0];
      skipValue = !w.includes('=') && chain.some((c) => c.options.some((o) => (o.long === flag || o.short === flag) && (o.required || o.optional)));
      continue;
    }
    if (!descending) continue;
    const bare = w.replace(/[[\]]/g, '');
    const sub = cmd.commands.find((c) => c.name() === bare || c.aliases().includes(bare));
    if (sub !== undefined) { cmd = sub; chain.push(sub); continue; }
    // A word in capitals or with a placeholder shape is an argument; a lower-case word right
    // after a command with subcommands (and no arguments of its own) is an unknown subcommand.
    if (cmd.commands.length > 0 && cmd.registeredArguments.length === 0 && /^[a-z][a-z-]*$/.test(bare)) {
      problems.push(`'${chain.map((c) => c.name()).join(' ')}' has no subcommand '${bare}'`);
    }
    descending = false;
  }
  const known = new Set<string>(['--help', '-h', '--version']);
  for (const c of chain) for (const o of c.options) { if (o.long) known.add(o.long); if (o.short) known.add(o.short); }
  for (const f of flagWords(words)) if (!known.has(f)) problems.push(`'${chain.map((c) => c.name()).join(' ')}' has no option ${f}`);
  return problems;
}
