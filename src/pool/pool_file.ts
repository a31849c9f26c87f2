import fs from 'node:fs';
import { DeviceGoneError, MediumError, NoSpaceError } from '../block/errors.ts';
import { PoolNotFoundError } from './pool_errors.ts';
import { FlushGroup } from './pool_flush_group.ts';
import { IoMode, IoPolicy } from './pool_io_policy.ts';

const ZERO_CHUNK_BYTES = 1024 * 1024;
/**
 * Largest single pwrite into the pool file; longer writes go in pieces, in ascending
 * order. A buffered write into a range with no page-cache pages yet (a never-written
 * thick extent, or one evicted) allocates folios as large as the write, and on the
 * benchmark VM (ext4 with large folios) filling fresh 1 MiB folios cost the kernel
 * several times as much per byte as 128 KiB ones: a full rebuild onto a new replica
 * spent over half of the replica engine's CPU in that one copy (perf): about 2.1 s of
 * CPU per GiB against about 1.6 s with pieces. Writes into cached pages cost about the
 * same either way, bar a syscall per piece.
 */
export const POOL_WRITE_PIECE_BYTES = 128 * 1024;
/**
 * tmpfs keeps small pages unless mounted with huge=, so its files gain nothing from
 * pieces and pay a syscall (or a thread-pool hop) for each one.
 */
const TMPFS_MAGIC = 0x01021994;
const ZERO_PARALLEL = 8;
let zeroChunk: Buffer | undefined;

/** A shared, never-written buffer of zeros: zeroing writes it over and over. */
export function zeroBuffer(): Buffer {
  zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
  return zeroChunk;
}

/** The host filesystem below a pool file could not allocate blocks (or the owner's quota is spent). */
export function isHostNoSpace(code: string | undefined): boolean {
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** What a failed transfer rejects with: NoSpaceError for a full host filesystem, else MediumError. */
export type PoolIoError = MediumError | NoSpaceError | DeviceGoneError;

function ioError(op: string, err: NodeJS.ErrnoException): PoolIoError {
  if (isHostNoSpace(err.code)) {
    // The same error as a pool without free extents: initiators get SPACE ALLOCATION FAILED.
    return new NoSpaceError(`host filesystem has no space for the pool file (${err.code})`);
  }
  return new MediumError(`pool ${op} failed: ${err.code ?? err.message}`, { cause: err });
}

function errCode(err: unknown): string {
  const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
  return cause?.code ?? (err as NodeJS.ErrnoException).code ?? 'error';
}

/** Called once per transfer with null or the error; may be called before the call returns. */
export type IoDone = (err: PoolIoError | null) => void;

/** Read buffers up to this size are carved from a shared slab instead of each getting an ArrayBuffer. */
const IO_SLAB_MAX_PIECE = 64 * 1024;
const IO_SLAB_BYTES = 1024 * 1024;
let ioSlab: Buffer | undefined;
let ioSlabUsed = 0;

/**
 * An uninitialised buffer for a read's result. Small ones are views of a 1 MiB slab
 * (as Buffer.allocUnsafe does below 4 KiB): one ArrayBuffer per few hundred 4 KiB reads
 * instead of one each, which is most of the garbage collector's work at high IOPS. A
 * slab is freed when the last view of it is; pieces are never reused.
 */
export function allocIoBuffer(len: number): Buffer {
  if (len > IO_SLAB_MAX_PIECE) return Buffer.allocUnsafe(len);
  if (ioSlab === undefined || ioSlabUsed + len > IO_SLAB_BYTES) {
    ioSlab = Buffer.allocUnsafeSlow(IO_SLAB_BYTES);
    ioSlabUsed = 0;
  }
  const b = ioSlab.subarray(ioSlabUsed, ioSlabUsed + len);
  ioSlabUsed = (ioSlabUsed + len + 7) & ~7;
  return b;
}

let defaultIoMode: IoMode = IoMode.auto;

/** The I/O mode of pool files opened from now on (the engine's `--io-mode`). */
export function setDefaultIoMode(mode: IoMode): void {
  defaultIoMode = mode;
}

/**
 * The pool's raw file descriptor. Positional transfers run synchronously on the event
 * loop or on libuv's thread pool as the file's IoPolicy decides (pool_io_policy.ts);
 * fdatasync runs on the thread pool (inline on tmpfs, where it does nothing but still
 * cost a hop), grouped by a FlushGroup: an initiator's flush skips the sync when no
 * write completed since the last one began, and concurrent ones share one.
 */
export class PoolFile {
  readonly fd: number;
  readonly policy: IoPolicy;
  /** Largest single pwrite (POOL_WRITE_PIECE_BYTES, or unbounded on tmpfs). */
  readonly writePieceBytes: number;
  /** Told of every write or fdatasync the host refused for want of space (ENOSPC, EDQUOT). */
  onNoSpace: ((code: string) => void) | null = null;
  /** Told once, of the first fdatasync that failed (errno code): flushes fail from then on. */
  onSyncFailed: ((code: string) => void) | null = null;
  /** Set while an engine's ownership guards the pool (pool_owner.ts). */
  guard: IoGuard | null = null;
  /** The file is on tmpfs (no device below it, no unwritten extents). */
  readonly onTmpfs: boolean;
  /** fdatasync on the event loop: on tmpfs it returns at once, and a thread-pool hop costs tens of µs. */
  private readonly inlineSync: boolean;
  private readonly flushes = new FlushGroup((done) => this.fdatasync(done), (err) => new MediumError(
    `an earlier fdatasync of the pool file failed (${errCode(err)}); flushes fail until the pool is imported again`, { cause: err }));
  /** The path the file was opened by, for writeDurable's second descriptor. */
  private path: string | undefined;
  private dsyncFd: Promise<number> | undefined;
  /** An anticipated fdatasync is about to start (anticipateFlush). */
  private anticipating = false;
  /** close() was called: the descriptor's number may belong to another file soon. */
  private closed = false;

  /** `tmpfs`: the file is on tmpfs (its fdatasync then runs inline). */
  constructor(fd: number, mode: IoMode = defaultIoMode, writePieceBytes = POOL_WRITE_PIECE_BYTES, tmpfs = false) {
    this.fd = fd;
    this.policy = new IoPolicy({ mode });
    this.writePieceBytes = writePieceBytes;
    this.inlineSync = tmpfs;
    this.onTmpfs = tmpfs;
  }

  static open(path: string, flags: number, mode = 0o600): Promise<PoolFile> {
    return new Promise((resolve, reject) => {
      fs.open(path, flags, mode, (err, fd) => {
        if (err) return reject(err);
        const tmpfs = onTmpfs(path);
        const file = new PoolFile(fd, defaultIoMode, tmpfs ? Number.MAX_SAFE_INTEGER : POOL_WRITE_PIECE_BYTES, tmpfs);
        file.path = path;
        resolve(file);
      });
    });
  }

  /** Reads exactly `len` bytes; bytes past the end of the file read as zeros. */
  read(buf: Buffer, off: number, len: number, pos: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.readInto(buf, off, len, pos, (err) => (err === null ? resolve() : reject(err)));
    });
  }

  write(buf: Buffer, off: number, len: number, pos: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.writeFrom(buf, off, len, pos, (err) => (err === null ? resolve() : reject(err)));
    });
  }

  /**
   * The hot-path read: `done` runs once, synchronously when the policy chose a
   * synchronous read (no promise, no thread-pool hop). Past the end of file reads zeros.
   */
  readInto(buf: Buffer, off: number, len: number, pos: number, done: IoDone): void {
    if (this.guard?.lost) return done(this.guard.lost);
    const policy = this.policy;
    if (policy.mode === IoMode.async) return this.readAsync(buf, off, len, pos, done);
    if (policy.mode === IoMode.sync) return done(this.readNow(buf, off, len, pos));
    const t0 = performance.now();
    if (!policy.useSync(len, t0)) return this.readAsync(buf, off, len, pos, done);
    const err = this.readNow(buf, off, len, pos);
    policy.observeSync(len, t0, performance.now());
    done(err);
  }

  /** The hot-path write, with readInto's calling convention. */
  writeFrom(buf: Buffer, off: number, len: number, pos: number, done: IoDone): void {
    const g = this.guard;
    if (g !== null && (g.lost !== null || performance.now() >= g.leaseUntil)) {
      // Straight to the write once a beat confirmed the claim: a beat slower than the
      // lease must not send the write round again.
      return g.renew((err) => (err === null ? this.writeLeased(buf, off, len, pos, done) : done(err)));
    }
    this.writeLeased(buf, off, len, pos, done);
  }

  private writeLeased(buf: Buffer, off: number, len: number, pos: number, done: IoDone): void {
    const policy = this.policy;
    if (policy.mode === IoMode.async) return this.writeAsync(buf, off, len, pos, done);
    if (policy.mode === IoMode.sync) return done(this.writeNow(buf, off, len, pos));
    const t0 = performance.now();
    if (!policy.useSync(len, t0)) return this.writeAsync(buf, off, len, pos, done);
    const err = this.writeNow(buf, off, len, pos);
    policy.observeSync(len, t0, performance.now());
    done(err);
  }

  private readNow(buf: Buffer, off: number, len: number, pos: number): PoolIoError | null {
    try {
      for (let done = 0; done < len;) {
        const n = fs.readSync(this.fd, buf, off + done, len - done, pos + done);
        if (n === 0) {
          buf.fill(0, off + done, off + len);
          break;
        }
        done += n;
      }
      return null;
    } catch (err) {
      return ioError('read', err as NodeJS.ErrnoException);
    }
  }

  private writeNow(buf: Buffer, off: number, len: number, pos: number): PoolIoError | null {
    try {
      const piece = this.writePieceBytes;
      for (let done = 0; done < len;) done += fs.writeSync(this.fd, buf, off + done, Math.min(piece, len - done), pos + done);
      return null;
    } catch (err) {
      return this.writeFailed(err as NodeJS.ErrnoException);
    } finally {
      this.flushes.writeCompleted();
    }
  }

  private readAsync(buf: Buffer, off: number, len: number, pos: number, done: IoDone): void {
    const step = (got: number): void => {
      fs.read(this.fd, buf, off + got, len - got, pos + got, (err, n) => {
        if (err) return done(ioError('read', err));
        if (n === 0) {
          buf.fill(0, off + got, off + len);
          return done(null);
        }
        if (got + n < len) return step(got + n);
        done(null);
      });
    };
    step(0);
  }

  /**
   * All pieces are queued at once: one after another they paid a thread-pool round trip
   * each (eight per 1 MiB), which cost 1 MiB writes a tenth of their rate. `done` runs
   * once every piece has settled, so the caller may reuse `buf`; the first error wins.
   */
  private writeAsync(buf: Buffer, off: number, len: number, pos: number, done: IoDone): void {
    const piece = this.writePieceBytes;
    let pending = Math.ceil(len / piece);
    let failure: PoolIoError | null = null;
    const settle = (err: PoolIoError | null): void => {
      if (err !== null && failure === null) failure = err;
      if (--pending === 0) {
        this.flushes.writeCompleted();
        done(failure);
      }
    };
    for (let start = 0; start < len; start += piece) {
      this.writePiece(buf, off + start, Math.min(piece, len - start), pos + start, settle);
    }
  }

  private writePiece(buf: Buffer, off: number, len: number, pos: number, done: IoDone): void {
    const step = (put: number): void => {
      fs.write(this.fd, buf, off + put, len - put, pos + put, (err, n) => {
        if (err) return done(this.writeFailed(err));
        if (put + n < len) return step(put + n);
        done(null);
      });
    };
    step(0);
  }

  /**
   * Writes zeros over [pos, pos+len) with a few chunk writes in flight. Always on the
   * thread pool: erasing is background work and must not hold up the loop's I/O.
   */
  async zero(pos: number, len: number): Promise<void> {
    const z = zeroBuffer();
    let next = pos;
    const end = pos + len;
    const writeChunk = (n: number, at: number): Promise<void> => new Promise((resolve, reject) => {
      const write = (): void => this.writeAsync(z, 0, n, at, (err) => (err === null ? resolve() : reject(err)));
      const g = this.guard;
      if (g !== null && (g.lost !== null || performance.now() >= g.leaseUntil)) g.renew((err) => (err === null ? write() : reject(err)));
      else write();
    });
    const worker = async (): Promise<void> => {
      while (next < end) {
        const at = next;
        const n = Math.min(z.length, end - at);
        next += n;
        await writeChunk(n, at);
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < ZERO_PARALLEL && i * z.length < len; i++) workers.push(worker());
    await Promise.all(workers);
  }

  /**
   * An initiator's flush (SYNCHRONIZE CACHE, FUA): resolves once every write to the file
   * that completed before the call (or before the mark `upTo`) is durable, sharing or
   * skipping fdatasyncs.
   */
  flush(upTo?: number): Promise<void> {
    return this.flushes.flush(upTo);
  }

  /**
   * Starts an fdatasync for a flush expected soon (a volume's commit pattern,
   * commit_predictor.ts), unless one runs or nothing is left to cover. Not on tmpfs,
   * where a flush's inline fdatasync costs nothing to wait for.
   */
  anticipateFlush(): void {
    if (this.inlineSync || this.anticipating) return;
    this.anticipating = true;
    // Two turns on: after the connection has sent the write's response (it writes what a
    // turn produced at setImmediate). Started at once, the sync's worker took the core
    // the response was waiting for: fio over libiscsi at QD1 saw its write p50 go from
    // 36 to 92 µs on the 2-core VM.
    setImmediate(() => setImmediate(() => {
      this.anticipating = false;
      if (!this.closed) this.flushes.anticipate();
    }));
  }

  /** A mark for `flush(upTo)`: covers every write to the file completed by now. */
  get writesCompleted(): number {
    return this.flushes.writesCompleted;
  }

  /**
   * A fresh fdatasync for the pool's own ordering (journal, format, erase before unmap):
   * it also covers changes made beside the counted writes (fallocate, punch, truncate).
   */
  sync(): Promise<void> {
    return this.flushes.fresh();
  }

  /**
   * Writes `buf` at `pos` and makes that range durable, and only that range: through a
   * second descriptor opened O_DSYNC. A journal checkpoint's image must be durable before
   * the journal starts over; an fdatasync of the pool's descriptor would also write back
   * every page the volumes dirtied since the last one, which under a write load took
   * 60–160 ms on disk while every metadata append (and the writes behind them) waited.
   * On tmpfs, or for a file opened from a bare descriptor, it is a write and an fdatasync.
   */
  async writeDurable(buf: Buffer, pos: number): Promise<void> {
    if (this.path === undefined || this.inlineSync) {
      await this.write(buf, 0, buf.length, pos);
      await this.sync();
      return;
    }
    const path = this.path;
    // No O_EXCL: the pool's own descriptor holds a block device's exclusive claim.
    this.dsyncFd ??= new Promise<number>((resolve, reject) => {
      fs.open(path, fs.constants.O_RDWR | fs.constants.O_DSYNC, (err, fd) => (err ? reject(err) : resolve(fd)));
    });
    let fd: number;
    try {
      fd = await this.dsyncFd;
    } catch (err) {
      this.dsyncFd = undefined;
      throw ioError('open', err as NodeJS.ErrnoException);
    }
    await new Promise<void>((resolve, reject) => {
      const put = (done: number): void => {
        fs.write(fd, buf, done, buf.length - done, pos + done, (err, n) => {
          if (err) return reject(this.writeFailed(err));
          if (done + n < buf.length) return put(done + n);
          resolve();
        });
      };
      const g = this.guard;
      if (g !== null && (g.lost !== null || performance.now() >= g.leaseUntil)) g.renew((err) => (err === null ? put(0) : reject(err)));
      else put(0);
    });
  }

  private fdatasync(done: (err: unknown) => void): void {
    if (this.inlineSync) {
      let failure: PoolIoError | null = null;
      try {
        fs.fdatasyncSync(this.fd);
      } catch (err) {
        failure = this.syncFailed(err as NodeJS.ErrnoException);
      }
      return done(failure);
    }
    fs.fdatasync(this.fd, (err) => done(err ? this.syncFailed(err) : null));
  }

  private syncFailed(err: NodeJS.ErrnoException): PoolIoError {
    const failure = this.writeFailed(err, 'fdatasync');
    if (this.flushes.failed === null) this.onSyncFailed?.(err.code ?? 'error');
    return failure;
  }

  private writeFailed(err: NodeJS.ErrnoException, op = 'write'): PoolIoError {
    if (isHostNoSpace(err.code)) this.onNoSpace?.(err.code!);
    return ioError(op, err);
  }

  async close(): Promise<void> {
    this.closed = true;
    const dsync = this.dsyncFd;
    this.dsyncFd = undefined;
    if (dsync !== undefined) {
      const fd = await dsync.catch(() => undefined);
      if (fd !== undefined) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
    await new Promise<void>((resolve, reject) => fs.close(this.fd, (err) => (err ? reject(err) : resolve())));
  }
}

function onTmpfs(path: string): boolean {
  try {
    return fs.statfsSync(path).type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Ownership's hold on a pool's transfers: none after it is lost, and writes only while
 * the lease of the last confirmed heartbeat runs (else they wait for a beat).
 */
export interface IoGuard {
  readonly lost: DeviceGoneError | null;
  /** performance.now() until which writes go ahead without asking. */
  readonly leaseUntil: number;
  /** Calls back once writes may go ahead again, or with the error that ends them. */
  renew(cb: (err: PoolIoError | null) => void): void;
}

/**
 * Opens a pool's path read-write. Block devices are opened O_EXCL, which Linux turns into
 * an exclusive claim on this host: a second opener (or a mounted filesystem) gets EBUSY,
 * which the caller turns into POOL_IN_USE naming the holder.
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
    if (code === 'EBUSY') throw new DeviceBusyError(path);
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

/** The block device is opened exclusively elsewhere (another engine, a mount). */
export class DeviceBusyError extends Error {
  readonly path: string;
  constructor(path: string) {
    super(`${path} is opened exclusively by another process`);
    this.path = path;
  }
}
