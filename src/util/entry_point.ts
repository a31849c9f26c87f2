import pkg from '../../package.json' with { type: 'json' };

/** The release, from package.json: what `--version` of every entry point prints. */
export const BERTH_VERSION: string = pkg.version;

/** What an entry point does with its arguments before parsing its own flags. */
export type EntryAnswer = { kind: 'help'; text: string } | { kind: 'version'; text: string } | undefined;

/**
 * `-h`/`--help` and `--version` are answered by every entry point before its own flags
 * are checked, so they work alongside any other (even wrong) flag. Pure.
 */
export function helpOrVersion(argv: readonly string[], name: string, usage: string): EntryAnswer {
  const end = argv.indexOf('--');
  const own = end < 0 ? argv : argv.slice(0, end);
  if (own.includes('--help') || own.includes('-h')) return { kind: 'help', text: usage.endsWith('\n') ? usage : `${usage}\n` };
  if (own.includes('--version')) return { kind: 'version', text: `${name} ${BERTH_VERSION}\n` };
  return undefined;
}

/** Prints the answer on stdout and exits 0, when there is one. */
export function answerHelpOrVersion(argv: readonly string[], name: string, usage: string): void {
  const answer = helpOrVersion(argv, name, usage);
  if (answer === undefined) return;
  process.stdout.write(answer.text);
  process.exit(0);
}
