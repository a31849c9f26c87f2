import fs from 'node:fs';
import { PoolFile, blockDeviceBytes } from './pool_file.ts';
import { openExclusive } from './pool_open.ts';
import { hasSuperblockMagic } from './pool_superblock.ts';
import { SUPERBLOCK_BYTES } from './pool_layout.ts';
import { InvalidSizeError, PoolDeviceNotEmptyError, PoolExistsError } from './pool_errors.ts';
import { describeContents, PROBE_BYTES } from './pool_signature.ts';

export interface CreateTarget {
  file: PoolFile;
  poolBytes: number;
  /** Every byte of the target is known to read as zero (a new or empty sparse file). */
  zeroed: boolean;
  /** This call created the file (so a failed create removes it again). */
  created: boolean;
}

function ftruncate(fd: number, len: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, len, (err) => (err ? reject(err) : resolve())));
}

/**
 * Opens what a new pool will live on. A missing or empty file is created or extended
 * sparse and counts as zeroed; a block device or a file with contents does not, so the
 * pool zeroes extents before first use. A path that already holds a pool is refused, and
 * so, without `force`, is one whose start is not all zeros (pool_signature.ts names what
 * it holds): formatting is the one pool operation that destroys data it does not own.
 */
export async function openCreateTarget(path: string, sizeBytes: number | undefined, force = false): Promise<CreateTarget> {
  if (sizeBytes !== undefined && (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0)) {
    throw new InvalidSizeError('pool size must be a positive integer');
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st === undefined) {
    if (sizeBytes === undefined) throw new InvalidSizeError(`${path} does not exist yet: a new pool file needs a size (--size on the CLI, sizeBytes in the API)`);
    const file = await PoolFile.open(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL);
    await ftruncate(file.fd, sizeBytes);
    return { file, poolBytes: sizeBytes, zeroed: true, created: true };
  }
  const file = await openExclusive(path);
  try {
    const head = Buffer.alloc(PROBE_BYTES);
    await file.read(head, 0, head.length, 0);
    if (hasSuperblockMagic(head) || hasSuperblockMagic(head.subarray(SUPERBLOCK_BYTES))) throw new PoolExistsError();
    const contents = describeContents(head);
    if (contents !== null && !force) throw new PoolDeviceNotEmptyError(`${path}: ${contents}`);
    if (st.isBlockDevice()) {
      const devBytes = blockDeviceBytes(st.rdev);
      if (sizeBytes !== undefined && sizeBytes > devBytes) throw new InvalidSizeError('pool size exceeds the device');
      return { file, poolBytes: sizeBytes ?? devBytes, zeroed: false, created: false };
    }
    if (!st.isFile()) throw new InvalidSizeError('a pool lives on a regular file or a block device');
    const poolBytes = sizeBytes ?? st.size;
    if (poolBytes > st.size) await ftruncate(file.fd, poolBytes);
    return { file, poolBytes, zeroed: st.size === 0, created: false };
  } catch (err) {
    await file.close();
    throw err;
  }
}
