/**
 * Installs a Berth tree where a FUSE keeper runs its workers from (`--worker-code`,
 * src/engine/fuse_keeper.ts), so the engine is upgraded without ending its local
 * attaches: the tree is copied once into a directory named by its content, then the
 * `current` symlink is switched to it in one rename, which the keeper sees and hands its
 * worker over to. The same content installed again changes nothing (no handover), so a
 * restarted installer is harmless. The Node binary that runs the installer goes along
 * (as node_modules/.bin/node, where the keeper looks): new code runs on its own Node.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BerthError } from '../util/errors.ts';

/** What makes a tree what it is: the code, the interface files and the exact dependencies. */
const CONTENT = ['src', 'proto', 'package.json', 'package-lock.json'];
/** Not part of an installed tree. */
const SKIP = new Set(['.git', '.build', 'test', 'docs']);
export const CURRENT = 'current';

export class CodeInstallError extends BerthError {
  constructor(message: string) { super('CODE_INSTALL', message); }
}

export interface InstallOptions {
  /** The tree to install (a Berth checkout or the image's /opt/berth). */
  source: string;
  /** The directory of installed trees; `current` in it is what --worker-code names. */
  into: string;
  /** Installed trees kept, the current one included (the previous ones are where a failed upgrade rolls back to). */
  keep: number;
  /** The Node binary the tree's workers run on. */
  node: string;
}

export interface InstallResult {
  id: string;
  /** False when a tree of this content was installed already. */
  copied: boolean;
  /** Whether `current` changed (the keeper hands over). */
  switched: boolean;
  pruned: string[];
}

function filesUnder(root: string, rel: string, out: string[]): void {
  const p = join(root, rel);
  if (!existsSync(p)) return;
  if (!lstatSync(p).isDirectory()) { out.push(rel); return; }
  for (const name of readdirSync(p).sort()) filesUnder(root, join(rel, name), out);
}

/** The content id of `source` with `nodeVersion`: 16 hex digits of a SHA-256 over paths and bytes. */
export function treeId(source: string, nodeVersion: string): string {
  const h = createHash('sha256').update(`node ${nodeVersion}\0`);
  const files: string[] = [];
  for (const c of CONTENT) filesUnder(source, c, files);
  if (!files.some((f) => f.startsWith(join('src', 'engine')))) throw new CodeInstallError(`${source} is not a Berth tree (no src/engine)`);
  for (const f of files) h.update(`${f}\0`).update(readFileSync(join(source, f))).update('\0');
  return h.digest('hex').slice(0, 16);
}

export function installCode(o: InstallOptions, nodeVersion: string): InstallResult {
  if (!Number.isInteger(o.keep) || o.keep < 2) throw new CodeInstallError('keep at least 2 trees: the current one and the one a failed upgrade rolls back to');
  mkdirSync(o.into, { recursive: true });
  const id = treeId(o.source, nodeVersion);
  const target = join(o.into, id);
  let copied = false;
  if (!existsSync(target)) {
    const tmp = join(o.into, `.tmp-${id}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    cpSync(o.source, tmp, { recursive: true, filter: (src) => !SKIP.has(relative(o.source, src).split('/')[0]!) });
    const bin = join(tmp, 'node_modules', '.bin');
    mkdirSync(bin, { recursive: true });
    if (!existsSync(join(bin, 'node'))) copyFileSync(o.node, join(bin, 'node'));
    renameSync(tmp, target);
    copied = true;
  }
  const link = join(o.into, CURRENT);
  const before = existsSync(link) ? readlinkSync(link) : undefined;
  const switched = before !== id;
  if (switched) {
    const next = join(o.into, `.${CURRENT}-${process.pid}`);
    rmSync(next, { force: true });
    symlinkSync(id, next);
    renameSync(next, link);
  }
  return { id, copied, switched, pruned: prune(o.into, id, o.keep) };
}

/** Removes installed trees beyond the `keep` newest (the current one always stays) and leftovers of interrupted copies. */
function prune(into: string, current: string, keep: number): string[] {
  const trees = readdirSync(into).filter((n) => /^[0-9a-f]{16}$/.test(n) && n !== current)
    .map((n) => ({ n, t: statSync(join(into, n)).mtimeMs })).sort((a, b) => b.t - a.t);
  const gone = trees.slice(keep - 1).map((x) => x.n);
  for (const n of readdirSync(into)) if (n.startsWith('.tmp-') && !n.endsWith(`-${process.pid}`)) gone.push(n);
  for (const n of gone) rmSync(join(into, n), { recursive: true, force: true });
  return gone;
}
