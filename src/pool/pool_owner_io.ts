import fs from 'node:fs';
import { MediumError } from '../block/errors.ts';
import { OWNER_RECORD_BYTES, OWNER_RECORD_OFFSET } from './pool_owner_record.ts';

/** The pool's first 4 KiB (primary superblock plus owner record), read and written durably. */
export interface OwnerBlockIo {
  read(): Promise<Buffer>;
  /** Durable when it resolves. May write only the owner record's sector of `block`. */
  write(block: Buffer): Promise<void>;
  /** Durable when it resolves. May write only the superblock's first sector of `block`. */
  writeHead(block: Buffer): Promise<void>;
  close(): Promise<void>;
}

const BLOCK = 4096;
/** The superblock's fields and checksum all sit in its first sector. */
const HEAD_BYTES = 512;

/**
 * A second descriptor on the pool for the owner record, opened O_DSYNC so a beat is
 * durable by itself (an fdatasync of the pool's own descriptor would flush all its
 * data). On a block device it is also O_DIRECT: another host's beats never reach this
 * host's page cache, so a cached read would show a heartbeat standing still. A regular
 * file's page cache is shared by every process on the host, and there only the record's
 * sector is written.
 */
export async function openOwnerBlockIo(path: string, blockDevice: boolean): Promise<OwnerBlockIo> {
  const base = fs.constants.O_RDWR | fs.constants.O_DSYNC;
  if (blockDevice) {
    const direct = tryDirect(path, base);
    if (direct !== null) return direct;
  }
  const fd = fs.openSync(path, base);
  const buf = Buffer.alloc(BLOCK);
  return {
    read: async () => {
      readFully(fd, buf, 0);
      return Buffer.from(buf);
    },
    write: async (block) => {
      writeFully(fd, block, OWNER_RECORD_OFFSET, OWNER_RECORD_BYTES, OWNER_RECORD_OFFSET);
    },
    writeHead: async (block) => {
      writeFully(fd, block, 0, HEAD_BYTES, 0);
    },
    close: async () => fs.closeSync(fd),
  };
}

/**
 * O_DIRECT wants a buffer aligned to the device's logical block size, and Node does not
 * say where a Buffer lives: try offsets into a larger one until the kernel accepts a
 * read (EINVAL means misaligned). Null when the device takes no direct I/O.
 */
function tryDirect(path: string, base: number): OwnerBlockIo | null {
  let fd: number;
  try {
    fd = fs.openSync(path, base | fs.constants.O_DIRECT);
  } catch {
    return null;
  }
  const slab = Buffer.allocUnsafeSlow(2 * BLOCK);
  // Buffers are at least 8-byte aligned; at most BLOCK / 8 probes, once per import.
  for (let at = 0; at < BLOCK; at += 8) {
    const view = slab.subarray(at, at + BLOCK);
    try {
      fs.readSync(fd, view, 0, BLOCK, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EINVAL') continue;
      fs.closeSync(fd);
      throw err;
    }
    return {
      read: async () => {
        readFully(fd, view, 0);
        return Buffer.from(view);
      },
      write: async (block) => {
        block.copy(view, 0, 0, BLOCK);
        writeFully(fd, view, 0, BLOCK, 0);
      },
      writeHead: async (block) => {
        block.copy(view, 0, 0, BLOCK);
        writeFully(fd, view, 0, BLOCK, 0);
      },
      close: async () => fs.closeSync(fd),
    };
  }
  fs.closeSync(fd);
  return null;
}

// Synchronous on purpose: one 4 KiB transfer a second, and a beat must not queue
// behind the pool's own transfers on the thread pool (a slow beat shortens the lease).
function readFully(fd: number, buf: Buffer, pos: number): void {
  try {
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, pos + got);
      if (n === 0) { buf.fill(0, got); break; }
      got += n;
    }
  } catch (err) {
    throw new MediumError(`owner record read failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

function writeFully(fd: number, buf: Buffer, off: number, len: number, pos: number): void {
  try {
    for (let put = 0; put < len;) put += fs.writeSync(fd, buf, off + put, len - put, pos + put);
  } catch (err) {
    throw new MediumError(`owner record write failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}
