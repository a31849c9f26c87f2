/**
 * Reads test/conformance/known-failures.txt: the iscsi-test-cu tests Berth may still
 * fail (each with its reason) and the floor on passed tests. The file only shrinks.
 *
 *   # comment
 *   min-passed 170
 *   Suite.Test  reason why it fails today
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KNOWN_FAILURES_PATH = join(dirname(fileURLToPath(import.meta.url)), 'known-failures.txt');

export interface KnownFailures {
  minPassed: number;
  /** Suite.Test → reason. */
  allowed: Map<string, string>;
}

export function parseKnownFailures(text: string): KnownFailures {
  let minPassed: number | undefined;
  const allowed = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const floor = /^min-passed\s+(\d+)$/.exec(line);
    if (floor) {
      minPassed = Number(floor[1]);
      return;
    }
    const m = /^([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s+(\S.*)$/.exec(line);
    if (!m) throw new Error(`known-failures.txt:${i + 1}: want "Suite.Test  reason", got '${line}'`);
    allowed.set(m[1], m[2]);
  });
  if (minPassed === undefined) throw new Error('known-failures.txt has no "min-passed N" line');
  return { minPassed, allowed };
}

export function loadKnownFailures(path = KNOWN_FAILURES_PATH): KnownFailures {
  return parseKnownFailures(readFileSync(path, 'utf8'));
}
