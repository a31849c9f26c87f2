/**
 * A FUSE front end for one exported LUN: the kernel's requests on the export file become
 * SCSI tasks on the same logical unit the iSCSI sessions use, from a nexus of its own.
 * So everything an LU enforces (reservations, the snapshot barrier's write hold, the
 * write gate, sanitize, unit attentions, I/O statistics) holds for this path too, and
 * a write is acknowledged to the kernel only when the LU acknowledged it.
 *
 * No I/O of its own: requests come in through `handle`, replies go out through `send`.
 */
import type { ITNexus, ScsiResponse, ScsiTarget, ScsiTask } from '../scsi/types.ts';
import { ScsiStatus } from '../scsi/types.ts';
import { MAX_WRITE_SAME_BLOCKS } from '../scsi/logical_unit.ts';
import {
  attrReply, Errno, errorReply, FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_ZERO_RANGE, FATTR_GID, FATTR_MODE, FATTR_SIZE, FATTR_UID,
  FuseOp, FuseProtocolError, initReply, openReply, OUT_HEADER_BYTES, parseHeader, parseRequest, replyHeader, statfsReply, UNIQUE_RESEND_BIT,
  writeReply,
  type FuseRequest,
} from './fuse_codec.ts';
import { errnoOfResponse, RETRY_LIMIT } from './fuse_errno.ts';
import { IoBufferPool } from '../iscsi/io_buffer_pool.ts';

export interface FuseGeometry {
  blockSize: number;
  blockCount: number;
  thin: boolean;
}

/** The logical unit the file is served from; it can be swapped (rebind) while the file stays mounted. */
export interface FuseUnit {
  target: Pick<ScsiTarget, 'execute' | 'dataOutReusable'>;
  lun: number;
  geometry: () => FuseGeometry;
}

export interface FuseFrontOptions {
  /** Absent: the front starts unbound (a connection taken over before its export is back). */
  unit?: FuseUnit;
  nexus: ITNexus;
  /** How long requests wait for a unit after unbind() before they fail with EIO (default 30 s). */
  unboundWaitMs?: number;
  /** Writes one reply; must not throw (the front calls it from promise callbacks). */
  send: (reply: Buffer) => void;
  /** Largest WRITE the kernel may send, in bytes. */
  maxWrite: number;
  /** Called once when the kernel says the mount is going away (DESTROY). */
  onDestroy?: () => void;
}

/** How long requests wait for a replaced export to come back before they fail. */
const UNBOUND_WAIT_MS = 30_000;

/** Free pooled buffers one front keeps: enough for the kernel's 16 background requests of 128 KiB. */
const FRONT_POOL_FREE_BYTES = 4 * 1024 * 1024;

/**
 * WRITE SAME(16) runs in pieces of this many blocks: the unit's own limit (Block Limits),
 * past which it refuses the command, so a discard of the whole volume (mkfs, blkdiscard)
 * was once EINVAL.
 */
const WRITE_SAME_BLOCKS = MAX_WRITE_SAME_BLOCKS;

function cdb16(op: number, lba: number, count: number, byte1 = 0): Buffer {
  const c = Buffer.alloc(16);
  c[0] = op;
  c[1] = byte1;
  // Two 32-bit halves: no BigInt per request (an LBA is below 2^53).
  c.writeUInt32BE(Math.floor(lba / 0x1_0000_0000), 2);
  c.writeUInt32BE(lba >>> 0, 6);
  c.writeUInt32BE(count, 10);
  return c;
}

/** An errno carried out of an operation to its reply. */
class Refusal extends Error {
  readonly errno: number;
  constructor(errno: number, message: string) { super(message); this.errno = errno; }
}

export class FuseFront {
  readonly #o: FuseFrontOptions;
  /** Writes in flight; a read-modify-write waits for them and holds new ones off. */
  #writes = 0;
  #exclusive: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  /** Requests answered with an error, by errno: for the export's view. */
  readonly errors = new Map<number, number>();
  /** Requests the kernel sent again (a connection taken over from a dead server). */
  resent = 0;
  /** I/O requests read and not yet answered. */
  inFlight = 0;
  /** Write data and read replies of 16 KiB and more: a fresh 128 KiB ArrayBuffer per request feeds V8's full collections. */
  readonly #buffers = new IoBufferPool(FRONT_POOL_FREE_BYTES);

  #unit: FuseUnit | undefined;
  /** The geometry last seen, for GETATTR while no unit is bound; undefined until a unit was bound once. */
  #lastGeometry: FuseGeometry | undefined;
  #waiters: { resolve: (u: FuseUnit) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];

  constructor(o: FuseFrontOptions) {
    this.#o = o;
    this.#unit = o.unit;
    this.#lastGeometry = o.unit?.geometry();
  }

  /**
   * The unit goes away (its export is being replaced, as a nexus is when it grows):
   * requests wait for the next one, as an initiator retries while it reconnects.
   */
  unbind(): void {
    if (this.#unit) this.#lastGeometry = this.#unit.geometry();
    this.#unit = undefined;
  }

  rebind(unit: FuseUnit): void {
    this.#unit = unit;
    this.#lastGeometry = unit.geometry();
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(unit);
    }
  }

  /** Only after #dispatch's gate: a unit has been bound once. */
  #geometry(): FuseGeometry {
    if (this.#unit) this.#lastGeometry = this.#unit.geometry();
    return this.#lastGeometry!;
  }

  #bound(): Promise<FuseUnit> {
    if (this.#unit) return Promise.resolve(this.#unit);
    return new Promise((resolve, reject) => {
      const w = {
        resolve, reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          reject(new Refusal(Errno.EIO, 'the export did not come back'));
        }, this.#o.unboundWaitMs ?? UNBOUND_WAIT_MS),
      };
      this.#waiters.push(w);
    });
  }

  /** One message read from /dev/fuse. `buf` may be reused as soon as this returns. */
  handle(buf: Buffer, n: number): void {
    try {
      const req = parseRequest(buf, n);
      if (req.h.unique >= UNIQUE_RESEND_BIT) this.resent++;
      this.#dispatch(req);
    } catch (err) {
      // Every request the kernel can name gets an answer, or its caller would wait forever.
      let unique: bigint;
      try { unique = parseHeader(buf, n).unique; } catch { return; /* no header: nobody to answer */ }
      this.#fail(unique, Errno.EIO);
      if (!(err instanceof FuseProtocolError)) throw err;
    }
  }

  #dispatch(req: FuseRequest): void {
    const u = req.h.unique;
    if (req.op === 'noreply') return;
    if (this.#lastGeometry === undefined && req.op !== 'init') { this.#afterBind(req); return; }
    if (req.op === 'init') { this.#o.send(initReply(req, { maxWrite: this.#o.maxWrite, maxReadahead: 128 * 1024 })); return; }
    if (req.h.nodeid !== 1n) { this.#fail(u, Errno.ENOENT); return; }
    switch (req.op) {
      case 'read': this.#answer(u, this.#read(u, req.offset, req.size)); return;
      case 'write': {
        // The data is a view of the read buffer, which the next request overwrites.
        const data = this.#buffers.acquire(req.data.length);
        req.data.copy(data);
        const written = data.length;
        this.#answer(u, this.#write(req.offset, data).then(() => writeReply(u, written)));
        return;
      }
      case 'fsync': this.#answer(u, this.#scsi(cdb16(0x91, 0, 0)).then(() => replyHeader(u, 0, 0))); return;
      case 'setattr': this.#setattr(req); return;
      case 'fallocate': this.#answer(u, this.#fallocate(req.offset, req.length, req.mode).then(() => replyHeader(u, 0, 0))); return;
      default: this.#other(req.h.opcode, u);
    }
  }

  /**
   * Not even the size is known before the first unit (a taken-over connection whose
   * export is not back yet): a size of 0 would make the kernel cut reads short, so every
   * request waits for the unit, in order, and fails with EIO if it does not come.
   */
  #afterBind(req: FuseRequest): void {
    const held = req.op === 'write' ? { ...req, data: Buffer.from(req.data) } : req;
    this.#bound().then(() => this.#dispatch(held), () => this.#fail(req.h.unique, Errno.EIO));
  }

  #other(opcode: number, u: bigint): void {
    switch (opcode) {
      case FuseOp.GETATTR: this.#o.send(attrReply(u, this.#attr())); return;
      case FuseOp.OPEN: this.#o.send(openReply(u)); return;
      case FuseOp.FLUSH: case FuseOp.RELEASE: this.#o.send(replyHeader(u, 0, 0)); return;
      case FuseOp.STATFS: { const g = this.#geometry(); this.#o.send(statfsReply(u, g.blockCount * g.blockSize, g.blockSize)); return; }
      case FuseOp.DESTROY: this.#o.send(replyHeader(u, 0, 0)); this.#o.onDestroy?.(); return;
      case FuseOp.LOOKUP: this.#fail(u, Errno.ENOENT); return;
      case FuseOp.OPENDIR: this.#fail(u, Errno.ENOTDIR); return;
      default: this.#fail(u, Errno.ENOSYS);
    }
  }

  #attr() {
    const g = this.#geometry();
    return { size: g.blockCount * g.blockSize, mode: 0o600, blockSize: g.blockSize, validSeconds: 1 };
  }

  /** The size is the volume's (resize goes through the engine); times and owners are not stored. */
  #setattr(req: Extract<FuseRequest, { op: 'setattr' }>): void {
    const u = req.h.unique;
    if ((req.valid & (FATTR_MODE | FATTR_UID | FATTR_GID)) !== 0) { this.#fail(u, Errno.EPERM); return; }
    const a = this.#attr();
    if ((req.valid & FATTR_SIZE) !== 0 && req.size !== a.size) { this.#fail(u, Errno.EPERM); return; }
    this.#o.send(attrReply(u, a));
  }

  #answer(u: bigint, p: Promise<Buffer>): void {
    this.inFlight++;
    p.then((reply) => {
      this.inFlight--;
      this.#o.send(reply);
      // send() wrote it synchronously: a pooled read reply can be lent again.
      this.#buffers.release(reply);
    }, (err: unknown) => {
      this.inFlight--;
      this.#fail(u, err instanceof Refusal ? err.errno : Errno.EIO);
    });
  }

  #fail(u: bigint, errno: number): void {
    this.errors.set(errno, (this.errors.get(errno) ?? 0) + 1);
    this.#o.send(errorReply(u, errno));
  }

  /**
   * One task; a unit attention (or a busy LU) is retried as an initiator would. Not an
   * async function: a bound unit's GOOD answer takes one `then`, on every READ and WRITE.
   */
  #scsi(cdb: Buffer, dataOut?: Buffer, dataInBuffer?: Buffer, attempt = 0): Promise<ScsiResponse> {
    const unit = this.#unit;
    if (unit === undefined) return this.#bound().then(() => this.#scsi(cdb, dataOut, dataInBuffer, attempt));
    // One object shape for every task (absent buffers are undefined, as the target reads them).
    const task: ScsiTask = { nexus: this.#o.nexus, lun: unit.lun, cdb, attribute: 0, expectedLength: dataInBuffer?.length ?? dataOut?.length ?? 0, dataOut, dataInBuffer };
    return unit.target.execute(task).then((res) => {
      if (res.status === ScsiStatus.GOOD) return res;
      const e = errnoOfResponse(res);
      if (e === 'retry' && attempt < RETRY_LIMIT) return this.#scsi(cdb, dataOut, dataInBuffer, attempt + 1);
      throw new Refusal(e === 'retry' ? Errno.EIO : e, `SCSI status ${res.status}`);
    });
  }

  /** Short at the end of the volume, empty past it (a regular file's read). */
  async #read(u: bigint, offset: number, size: number): Promise<Buffer> {
    const g = this.#geometry();
    const end = Math.min(offset + size, g.blockCount * g.blockSize);
    if (end <= offset) return replyHeader(u, 0, 0);
    const first = Math.floor(offset / g.blockSize);
    const last = Math.ceil(end / g.blockSize);
    const len = end - offset;
    const aligned = first * g.blockSize === offset && last * g.blockSize === end;
    const reply = replyHeader(u, 0, len, this.#buffers.acquire(OUT_HEADER_BYTES + len));
    const into = aligned ? reply.subarray(OUT_HEADER_BYTES) : Buffer.allocUnsafe((last - first) * g.blockSize);
    const res = await this.#scsi(cdb16(0x88, first, last - first), undefined, into);
    const data = res.data ?? Buffer.alloc(0);
    const skip = offset - first * g.blockSize;
    if (!(aligned && data.buffer === into.buffer && data.byteOffset === into.byteOffset)) data.copy(reply, OUT_HEADER_BYTES, skip, skip + len);
    return reply;
  }

  /** Not async: the aligned WRITE, nearly every one, makes no frame of its own. */
  #write(offset: number, data: Buffer): Promise<void> {
    const g = this.#geometry();
    if (offset + data.length > g.blockCount * g.blockSize) return Promise.reject(new Refusal(Errno.EFBIG, 'write past the end of the volume'));
    if (data.length === 0) return Promise.resolve();
    const bs = g.blockSize;
    if (offset % bs === 0 && data.length % bs === 0 && this.#exclusive === undefined) return this.#plainWrite(offset / bs, data, bs);
    return this.#slowWrite(offset, data, bs);
  }

  /** Gives `data` back to the pool afterwards when the LU says its device is done with it. */
  #plainWrite(lba: number, data: Buffer, bs: number): Promise<void> {
    this.#writes++;
    const cdb = cdb16(0x8a, lba, data.length / bs);
    const reusable = this.#unit?.target.dataOutReusable?.(this.#unit.lun, cdb) === true;
    const done = (): void => {
      if (--this.#writes === 0) this.#drained?.();
      if (reusable) this.#buffers.release(data);
    };
    return this.#scsi(cdb, data).then(done, (err: unknown) => { done(); throw err; });
  }

  /** Unaligned edges: read the covering blocks, patch, write them, with no other write in between. */
  async #slowWrite(offset: number, data: Buffer, bs: number): Promise<void> {
    while (this.#exclusive) await this.#exclusive;
    if (offset % bs === 0 && data.length % bs === 0) return this.#plainWrite(offset / bs, data, bs);
    let release!: () => void;
    this.#exclusive = new Promise((r) => { release = r; });
    try {
      if (this.#writes > 0) await new Promise<void>((r) => { this.#drained = r; });
      this.#drained = undefined;
      const first = Math.floor(offset / bs);
      const last = Math.ceil((offset + data.length) / bs);
      const res = await this.#scsi(cdb16(0x88, first, last - first), undefined, Buffer.allocUnsafe((last - first) * bs));
      const blocks = Buffer.from(res.data ?? Buffer.alloc((last - first) * bs));
      data.copy(blocks, offset - first * bs);
      await this.#plainWrite(first, blocks, bs);
    } finally {
      this.#exclusive = undefined;
      release();
    }
  }

  /**
   * Discard (punch hole) and zero range both leave zeros: WRITE SAME(16) of a zero block,
   * with UNMAP on a thin volume so the space goes back. Partial blocks at the edges are
   * written as zeros. Plain preallocation (mode 0) has nothing to do: the volume is its size.
   */
  async #fallocate(offset: number, length: number, mode: number): Promise<void> {
    const g = this.#geometry();
    const known = FALLOC_KEEP_SIZE | FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE;
    if ((mode & ~known) !== 0) throw new Refusal(Errno.EOPNOTSUPP, `fallocate mode ${mode}`);
    const end = offset + length;
    if (end > g.blockCount * g.blockSize) throw new Refusal(Errno.EFBIG, 'fallocate past the end of the volume');
    if ((mode & (FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE)) === 0 || length === 0) return;
    const bs = g.blockSize;
    const first = Math.ceil(offset / bs);
    const last = Math.floor(end / bs);
    if (last <= first) { await this.#write(offset, Buffer.alloc(length)); return; }
    if (offset < first * bs) await this.#write(offset, Buffer.alloc(first * bs - offset));
    if (end > last * bs) await this.#write(last * bs, Buffer.alloc(end - last * bs));
    const zero = Buffer.alloc(bs);
    for (let lba = first; lba < last; lba += WRITE_SAME_BLOCKS) {
      const n = Math.min(WRITE_SAME_BLOCKS, last - lba);
      await this.#scsi(cdb16(0x93, lba, n, g.thin ? 0x08 : 0), zero);
    }
  }
}
