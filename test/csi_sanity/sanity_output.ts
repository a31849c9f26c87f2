/** csi-sanity's command line and its Ginkgo summary, read as values (pure). */

export interface SanityResult {
  label: string;
  /** `Ran N of M Specs in S seconds`, or a note that the line is missing. */
  ranLine: string;
  /** `SUCCESS! -- P Passed | F Failed | Pe Pending | S Skipped` (or `FAIL! -- …`). */
  summaryLine: string;
  passed: number;
  failed: number;
  pending: number;
  skipped: number;
  exitCode: number;
  /** The `[FAIL]` lines of Ginkgo's summary: which specs failed. */
  failures: string[];
}

const ANSI = /\u001b\[[0-9;]*m/g;

export function sanityArgs(o: { socket: string; stagingDir: string; mountDir: string; volumeBytes: number; extra: readonly string[] }): string[] {
  return [
    `--csi.endpoint=unix://${o.socket}`,
    `--csi.stagingdir=${o.stagingDir}`,
    `--csi.mountdir=${o.mountDir}`,
    `--csi.testvolumesize=${o.volumeBytes}`,
    '--ginkgo.no-color',
    ...o.extra,
  ];
}

export function sanityResult(label: string, output: string, exitCode: number): SanityResult {
  const lines = output.replace(ANSI, '').split('\n').map((l) => l.trimEnd());
  const ranLine = lines.filter((l) => /^Ran \d+ of \d+ Specs? in /.test(l.trim())).at(-1)?.trim() ?? 'Ran ? (no "Ran … Specs" line in the output)';
  const summaryLine = lines.filter((l) => /\d+ Passed \| \d+ Failed \| \d+ Pending \| \d+ Skipped/.test(l)).at(-1)?.trim() ?? '? Passed | ? Failed (no summary line in the output)';
  const n = (what: string): number => {
    const m = new RegExp(`(\\d+) ${what}`).exec(summaryLine);
    return m ? Number(m[1]) : Number.NaN;
  };
  const failures = lines.filter((l) => /^\s*\[FAIL\]/.test(l)).map((l) => l.trim());
  return { label, ranLine, summaryLine, passed: n('Passed'), failed: n('Failed'), pending: n('Pending'), skipped: n('Skipped'), exitCode, failures };
}
