import { open, rename, unlink, readFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/**
 * Replaces `path` with `contents` so that after a crash at any instant the file holds
 * either the old or the new contents, never a mix: write a temporary file, fsync it,
 * rename it over the target, then fsync the directory so the rename itself is durable.
 */
export async function writeFileAtomic(path: string, contents: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(contents);
    // open() honours mode only when it creates the file; a leftover tmp keeps its old mode.
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
  await syncDirectory(dirname(path));
}

export async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Reads a file, or returns undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
