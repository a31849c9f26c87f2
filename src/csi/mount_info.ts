/** Pure reader of /proc/self/mountinfo (proc(5)): which paths are mount points, of what. */

export interface MountEntry {
  mountPoint: string;
  /** The mounted filesystem's root within its source (for a bind mount of a subtree). */
  root: string;
  fsType: string;
  source: string;
  options: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 6 || right.length < 2) continue;
    out.push({
      root: unescapeOctal(left[3]),
      mountPoint: unescapeOctal(left[4]),
      options: left[5].split(','),
      fsType: right[0],
      source: unescapeOctal(right[1]),
    });
  }
  return out;
}

/** The last (topmost) mount at a path, or undefined. */
export function mountAt(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i].mountPoint === path) return entries[i];
  return undefined;
}
