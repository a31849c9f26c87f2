import fs from 'node:fs';
import type { Logger } from '../util/log.ts';
import { DeviceBusyError, openPoolPath, type PoolFile } from './pool_file.ts';
import { PoolInUseError } from './pool_errors.ts';
import { openOwnerBlockIo } from './pool_owner_io.ts';
import { PoolOwnership, type OwnershipOptions } from './pool_owner.ts';
import { decodeOwnerRecord, describeOwner, OWNER_RECORD_BYTES, OWNER_RECORD_OFFSET, OwnerState } from './pool_owner_record.ts';

function isBlockDevice(path: string): boolean {
  try {
    return fs.statSync(path).isBlockDevice();
  } catch {
    return false;
  }
}

/**
 * Opens a pool's path for import or create. A block device someone holds exclusively on
 * this host is refused with POOL_IN_USE, naming the holder when the owner record names one.
 */
export async function openExclusive(path: string): Promise<PoolFile> {
  try {
    return await openPoolPath(path);
  } catch (err) {
    if (!(err instanceof DeviceBusyError)) throw err;
    throw new PoolInUseError(holderOfBusyDevice(path), 'the device is opened exclusively');
  }
}

function holderOfBusyDevice(path: string): string {
  try {
    const fd = fs.openSync(path, fs.constants.O_RDONLY);
    try {
      const buf = Buffer.alloc(OWNER_RECORD_BYTES);
      fs.readSync(fd, buf, 0, buf.length, OWNER_RECORD_OFFSET);
      const rec = decodeOwnerRecord(buf);
      if (rec !== null && rec.state === OwnerState.held) return describeOwner(rec);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Fall through to the anonymous answer.
  }
  return 'another process that opened the device exclusively (an engine importing it now, a mount, or another program)';
}

export interface OwnParams {
  path: string;
  file: PoolFile;
  uuid: string;
  /** True for a pool create just wrote: no one else can know it, so no wait. */
  fresh: boolean;
  options: OwnershipOptions | undefined;
  logger: Logger;
}

/**
 * Claims the pool for this process and puts the claim's lease in front of the file's
 * writes. A block device also flushes its data before each beat: another host reads it
 * from the device, not from this host's page cache.
 */
export async function ownPool(p: OwnParams): Promise<PoolOwnership> {
  const blockDevice = isBlockDevice(p.path);
  const io = await openOwnerBlockIo(p.path, blockDevice);
  const opts: OwnershipOptions = {
    logger: p.logger, ...p.options, ...(blockDevice ? { flushData: () => p.file.sync() } : {}),
  };
  const ownership = p.fresh ? await PoolOwnership.claimNew(io, p.uuid, opts) : await PoolOwnership.acquire(io, p.uuid, opts);
  p.file.guard = ownership;
  return ownership;
}
