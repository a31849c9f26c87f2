import fs from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { BerthError } from '../util/errors.ts';

/** A pool path outside what this engine may format or import. */
export class PoolPathNotAllowedError extends BerthError {
  constructor(message: string) { super('POOL_PATH_NOT_ALLOWED', message); }
}

/** The path with every symlink resolved; for a path that does not exist yet, its directory's. */
function realPath(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    try {
      return join(fs.realpathSync(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}

function isBlockDevice(path: string): boolean {
  try {
    return fs.statSync(path).isBlockDevice();
  } catch {
    return false;
  }
}

/**
 * Where a pool given by the API may live: a block device under /dev, or a file under one
 * of the engine's pool roots (`--pool-root`, default its data dir). Relative paths are
 * refused (relative to what? the engine's working directory is no one's business), and
 * symlinks are followed before the check, so a link cannot lead out of a root.
 * Returns the normalized absolute path.
 */
export function checkPoolPath(given: string, roots: readonly string[]): string {
  if (!isAbsolute(given)) throw new PoolPathNotAllowedError(`pool path '${given}' is relative; give an absolute path`);
  const path = resolve(given);
  const real = realPath(path);
  if (isBlockDevice(real)) {
    if (real.startsWith('/dev/')) return path;
    throw new PoolPathNotAllowedError(`${path} is a block device outside /dev`);
  }
  for (const root of roots) {
    const r = realPath(resolve(root));
    if (real === r || real.startsWith(r.endsWith(sep) ? r : r + sep)) return path;
  }
  throw new PoolPathNotAllowedError(
    `${path} is outside this engine's pool roots (${roots.join(', ')}): a pool lives on a block device under /dev or a file under a --pool-root`,
  );
}
