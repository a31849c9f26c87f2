import fs from 'node:fs';
import { MediumError } from '../block/errors.ts';
import { PoolBusyError, PoolNotFoundError } from './pool_errors.ts';

const ZERO_CHUNK_BYTES = 1024 * 1024;
const ZERO_PARALLEL = 8;
let zeroChunk: Buffer | undefined;

/** A shared, never-written buffer of zeros: zeroing writes it over and over. */
export function zeroBuffer(): Buffer {
  zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
  return zeroChunk;
}

function ioError(op: string, err: NodeJS.ErrnoException): MediumError {
  return new MediumError(`pool ${op} failed: ${err.code ?? err.message}`, { cause: err });
}

/**
 * The pool's raw file descriptor with callback-based positional I/O wrapped once in a
 * promise each, and an fdatasync that coalesces: callers that arrive while one runs share
 * the next one (their writes may have landed after the running one started).
 */
export class PoolFile {
  readonly fd: number;
  private syncing: Promise<void> | null = null;
  private nextSync: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;

  constructor(fd: number) { this.fd = fd; }

  static open(path: string, flags: number, mode = 0o600): Promise<PoolFile> {
    return new Promise((resolve, reject) => {
      fs.open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(new PoolFile(fd))));
    });
  }

  /** Reads exactly `len` bytes; bytes past the end of the file read as zeros. */
  read(buf: Buffer, off: number, len: number, pos: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fs.read(this.fd, buf, off + done, len - done, pos + done, (err, n) => {
          if (err) return reject(ioError('read', err));
          if (n === 0) { buf.fill(0, off + done, off + len); return resolve(); }
          if (done + n < len) return step(done + n);
          resolve();
        });
      };
      step(0);
    });
  }

  write(buf: Buffer, off: number, len: number, pos: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fs.write(this.fd, buf, off + done, len - done, pos + done, (err, n) => {
          if (err) return reject(ioError('write', err));
          if (done + n < len) return step(done + n);
          resolve();
        });
      };
      step(0);
    });
  }

  /** Writes zeros over [pos, pos+len) with a few chunk writes in flight. */
  async zero(pos: number, len: number): Promise<void> {
    const z = zeroBuffer();
    let next = pos;
    const end = pos + len;
    const worker = async (): Promise<void> => {
      while (next < end) {
        const at = next;
        const n = Math.min(z.length, end - at);
        next += n;
        await this.write(z, 0, n, at);
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < ZERO_PARALLEL && i * z.length < len; i++) workers.push(worker());
    await Promise.all(workers);
  }

  /** fdatasync, shared among concurrent callers. */
  sync(): Promise<void> {
    if (this.syncing === null) {
      this.syncing = this.runSync();
      return this.syncing;
    }
    if (this.nextSync === null) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
      this.nextSync = { promise, resolve, reject };
    }
    return this.nextSync.promise;
  }

  private runSync(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      fs.fdatasync(this.fd, (err) => {
        this.syncing = null;
        const waiting = this.nextSync;
        this.nextSync = null;
        if (waiting !== null) {
          this.syncing = this.runSync();
          this.syncing.then(waiting.resolve, waiting.reject);
        }
        if (err) reject(ioError('fdatasync', err)); else resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => fs.close(this.fd, (err) => (err ? reject(err) : resolve())));
  }
}

/**
 * Opens a pool's path read-write. Block devices are opened O_EXCL, which Linux turns into
 * an exclusive claim: a second importer (or a mounted filesystem) gets PoolBusyError.
 */
export async function openPoolPath(path: string, extraFlags = 0): Promise<PoolFile> {
  let flags = fs.constants.O_RDWR | extraFlags;
  try {
    if (fs.statSync(path).isBlockDevice()) flags |= fs.constants.O_EXCL;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new PoolNotFoundError();
    throw err;
  }
  try {
    return await PoolFile.open(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY') throw new PoolBusyError();
    if (code === 'ENOENT') throw new PoolNotFoundError();
    throw err;
  }
}

/** Size of a block device from sysfs (Node's fstat reports 0 for devices). */
export function blockDeviceBytes(rdev: number): number {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00));
  const sectors = Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim());
  return sectors * 512;
}
