import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { BlockDevice } from '../block/block_device.ts';
import { DeviceGoneError } from '../block/errors.ts';
import { ReplicaFramer } from './replica_framer.ts';
import { ReplicaCork } from './replica_cork.ts';
import { encodeHeader, encodeRequest, isReply, replyOp } from './replica_codec.ts';
import { REPLICA_MAX_PAYLOAD_DEFAULT, REPLICA_PROTOCOL_VERSION, ReplicaFlag, ReplicaOp, ReplicaStatus, opName, type FrameHeader } from './replica_protocol.ts';
import { ReplicaProtocolError, ReplicaTimeoutError, errorForStatus } from './replica_errors.ts';
import { NO_PROOF, REPLICA_AUTH_NONCE_BYTES, ReplicaAuthError, decodeAuthReply, type ReplicaAuthKeys } from './replica_auth.ts';

export interface RemoteReplicaOptions {
  host: string;
  port: number;
  /** The replica's name on the server. */
  volume: string;
  /** The nexus generation this connection acts for. */
  generation: number;
  /** Raise the replica's fence to `generation` after HELLO (what a nexus does). Default true. */
  fence?: boolean;
  /** Each op must be answered within this time or the connection is declared failed. Default 5000. */
  opTimeoutMs?: number;
  connectTimeoutMs?: number;
  maxPayload?: number;
  /**
   * The cluster token(s): the server must prove it holds one before this side proves
   * itself in HELLO. Without keys, HELLO carries no proof (only an open server takes it).
   */
  auth?: ReplicaAuthKeys;
}

/**
 * Told when a write sent with `submitWrite` settles: `err` undefined means the replica
 * acknowledged it. Never called from within submitWrite itself.
 */
export interface ReplicaWriteSink {
  writeDone(tag: number, err: Error | undefined): void;
}

/** One request awaiting its reply: settles a promise, or (submitWrite) tells a sink. */
class Pending {
  readonly op: number;
  readonly deadline: number;
  readonly resolve: ((value: unknown) => void) | undefined;
  readonly reject: ((err: Error) => void) | undefined;
  readonly sink: ReplicaWriteSink | undefined;
  readonly tag: number;

  constructor(op: number, deadline: number, resolve: ((value: unknown) => void) | undefined, reject: ((err: Error) => void) | undefined, sink: ReplicaWriteSink | undefined, tag: number) {
    this.op = op;
    this.deadline = deadline;
    this.resolve = resolve;
    this.reject = reject;
    this.sink = sink;
    this.tag = tag;
  }

  succeed(value: unknown): void {
    if (this.sink !== undefined) this.sink.writeDone(this.tag, undefined);
    else (this.resolve as (value: unknown) => void)(value);
  }

  /** A sink hears of a failure a microtask later, as a promise's reaction would: never inside close() or fail(). */
  fail(err: Error): void {
    const sink = this.sink;
    if (sink === undefined) return (this.reject as (err: Error) => void)(err);
    const tag = this.tag;
    queueMicrotask(() => sink.writeDone(tag, err));
  }
}

const TWO_32 = 0x1_0000_0000;
/** Larger I/Os are sent as several requests, so no frame nears the payload limit. */
export const REMOTE_REPLICA_MAX_IO_BYTES = 8 * 1024 * 1024;

/**
 * A replica on another node, reached over one TCP connection, as a BlockDevice.
 * Requests are pipelined and may complete in any order. This object never reconnects:
 * when the connection breaks (socket loss, protocol error, an op past its timeout) every
 * op in flight and every later op rejects with DeviceGoneError, `failed` turns true and
 * the failure listeners run. Reconnecting (and resyncing) is the nexus's decision.
 *
 * Timeouts use one timer for the whole connection: ops share one timeout, so the
 * oldest op in flight (the first in the insertion-ordered map) always expires first.
 */
export class RemoteReplica implements BlockDevice {
  blockSize = 0;
  blockCount = 0;
  thin = false;
  /** The replica's generation as the server reported it at HELLO (or after FENCE). */
  generation = 0;
  failure: Error | undefined;
  /**
   * A write resolves only on the server's OK reply, and the server replies only after its
   * framer has received the whole payload — so every byte of the buffer has already left
   * this process: libuv copied it into the kernel's send buffer (no zero-copy send) and
   * never reads bytes it has written again. Nothing here keeps the buffer after that (the
   * header is separate). A write that rejects (error reply, timeout, lost connection) may
   * still be queued on the socket, so its buffer must not be reused.
   */
  readonly releasesWriteBuffers = true;

  private readonly socket: net.Socket;
  private readonly opTimeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private readonly framer: ReplicaFramer;
  private readonly failureListeners: Array<(err: Error) => void> = [];
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private readonly cork: ReplicaCork;
  private ready = false;
  private closed = false;

  private constructor(socket: net.Socket, opts: RemoteReplicaOptions) {
    this.socket = socket;
    this.opTimeoutMs = opts.opTimeoutMs ?? 5000;
    this.framer = new ReplicaFramer((h, p) => this.onFrame(h, p), opts.maxPayload ?? REPLICA_MAX_PAYLOAD_DEFAULT);
    this.cork = new ReplicaCork(socket);
    socket.setNoDelay(true);
    // Notices a dead link even while idle, so the nexus can retire the child before the next I/O.
    socket.setKeepAlive(true, 5000);
    socket.on('data', (chunk: Buffer) => {
      try { this.framer.push(chunk); } catch (err) { this.fail(err as Error); }
    });
    socket.on('end', () => {
      try { this.framer.end(); } catch (err) { this.fail(err as Error); return; }
      this.fail(new DeviceGoneError('replica server closed the connection'));
    });
    socket.on('error', (err) => this.fail(new DeviceGoneError(`replica connection error: ${err.message}`)));
    socket.on('close', () => this.fail(new DeviceGoneError('replica connection closed')));
  }

  /** Connects, says HELLO (and FENCE unless told not to); rejects with the server's precise error. */
  static async connect(opts: RemoteReplicaOptions): Promise<RemoteReplica> {
    const socket = net.connect({ host: opts.host, port: opts.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { socket.destroy(); reject(new DeviceGoneError(`connect to ${opts.host}:${opts.port} timed out`)); }, opts.connectTimeoutMs ?? 5000);
      socket.once('connect', () => { clearTimeout(timer); socket.off('error', onError); resolve(); });
      const onError = (err: Error): void => { clearTimeout(timer); reject(new DeviceGoneError(`connect to ${opts.host}:${opts.port} failed: ${err.message}`)); };
      socket.once('error', onError);
    });
    const r = new RemoteReplica(socket, opts);
    try {
      const proof = opts.auth ? await r.authenticate(opts.auth) : NO_PROOF;
      await r.hello(opts.volume, opts.generation, REPLICA_PROTOCOL_VERSION, proof);
      if (opts.fence ?? true) await r.fence(opts.generation);
    } catch (err) {
      r.close();
      throw err;
    }
    r.ready = true;
    return r;
  }

  get failed(): boolean { return this.failure !== undefined; }

  /** Called once if the connection breaks (not after close()). */
  onFailed(listener: (err: Error) => void): void { this.failureListeners.push(listener); }

  read(lba: number, count: number): Promise<Buffer> {
    const max = REMOTE_REPLICA_MAX_IO_BYTES / this.blockSize;
    if (count > max) return this.split(lba, count, max, (l, n) => this.read(l, n)).then((parts) => Buffer.concat(parts));
    return this.request<Buffer>(ReplicaOp.READ, encodeHeader(ReplicaOp.READ, 0, 0, 0, lba, count, 0));
  }

  write(lba: number, data: Buffer, fua: boolean): Promise<void> {
    const count = Math.floor(data.length / this.blockSize);
    const max = REMOTE_REPLICA_MAX_IO_BYTES / this.blockSize;
    if (count > max) {
      const bs = this.blockSize;
      return this.split(lba, count, max, (l, n) => this.write(l, data.subarray((l - lba) * bs, (l - lba + n) * bs), fua)).then(() => undefined);
    }
    return this.request<void>(ReplicaOp.WRITE, encodeHeader(ReplicaOp.WRITE, fua ? ReplicaFlag.FUA : 0, 0, data.length, lba, count, 0), data);
  }

  /**
   * `write` without a promise: the outcome goes to `sink.writeDone(tag, err)`, always
   * later than this call returns. The nexus fans every write out this way, sparing a
   * promise, its reactions and their closures per replica per write.
   */
  submitWrite(lba: number, data: Buffer, fua: boolean, sink: ReplicaWriteSink, tag: number): void {
    const count = Math.floor(data.length / this.blockSize);
    if (count > REMOTE_REPLICA_MAX_IO_BYTES / this.blockSize || this.failure) {
      this.write(lba, data, fua).then(() => sink.writeDone(tag, undefined), (err: Error) => sink.writeDone(tag, err));
      return;
    }
    const id = this.allocateId();
    this.pending.set(id, new Pending(ReplicaOp.WRITE, Date.now() + this.opTimeoutMs, undefined, undefined, sink, tag));
    this.send(encodeHeader(ReplicaOp.WRITE, fua ? ReplicaFlag.FUA : 0, id, data.length, lba, count, 0), data);
  }

  /** Runs `op` over [lba, lba+count) in pieces of at most `max` blocks, all in flight at once. */
  private split<T>(lba: number, count: number, max: number, op: (lba: number, count: number) => Promise<T>): Promise<T[]> {
    const parts: Array<Promise<T>> = [];
    for (let at = lba; at < lba + count; at += max) parts.push(op(at, Math.min(max, lba + count - at)));
    return Promise.all(parts);
  }

  flush(): Promise<void> { return this.request<void>(ReplicaOp.FLUSH, encodeHeader(ReplicaOp.FLUSH, 0, 0, 0, 0, 0, 0)); }

  unmap(lba: number, count: number): Promise<void> {
    return this.request<void>(ReplicaOp.UNMAP, encodeHeader(ReplicaOp.UNMAP, 0, 0, 0, lba, count, 0));
  }

  mapStatus(lba: number, count: number): Promise<{ mapped: boolean; count: number }> {
    return this.request(ReplicaOp.MAP_STATUS, encodeHeader(ReplicaOp.MAP_STATUS, 0, 0, 0, lba, count, 0));
  }

  ping(): Promise<void> { return this.request<void>(ReplicaOp.PING, encodeHeader(ReplicaOp.PING, 0, 0, 0, 0, 0, 0)); }

  /** Raises the replica's fence to `generation`; rejects StaleGenerationError if it is already higher. */
  async fence(generation: number): Promise<void> {
    this.generation = await this.request<number>(ReplicaOp.FENCE, encodeHeader(ReplicaOp.FENCE, 0, 0, 0, generation, 0, 0));
  }

  /** Closes the connection; ops in flight reject. Not reported as a failure. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rejectAll(new DeviceGoneError('replica connection closed'));
    this.failure ??= new DeviceGoneError('replica connection closed');
    this.socket.destroy();
  }

  private async hello(volume: string, generation: number, version: number, proof: Buffer): Promise<void> {
    const [header, body] = encodeRequest({ op: ReplicaOp.HELLO, id: 0, version, generation, volume, proof });
    await this.request<void>(ReplicaOp.HELLO, header, body);
  }

  /** The token handshake: the server proves itself first; returns this side's proof for HELLO. */
  private async authenticate(keys: ReplicaAuthKeys): Promise<Buffer> {
    const clientNonce = randomBytes(REPLICA_AUTH_NONCE_BYTES);
    const [header, body] = encodeRequest({ op: ReplicaOp.AUTH, id: 0, clientNonce });
    const { serverNonce, serverProof } = decodeAuthReply(await this.request<Buffer>(ReplicaOp.AUTH, header, body));
    if (!keys.acceptsServer(clientNonce, serverNonce, serverProof)) {
      throw new ReplicaAuthError('the replica server could not prove it holds the cluster token: not a Berth engine of this cluster');
    }
    return keys.clientProof(clientNonce, serverNonce);
  }

  /** Sends one request; the header's request id is filled in here. */
  private request<T>(op: number, header: Buffer, payload?: Buffer): Promise<T> {
    if (this.failure) return Promise.reject(new DeviceGoneError(`replica unavailable: ${this.failure.message}`));
    const id = this.allocateId();
    header.writeUInt32BE(id, 8);
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, new Pending(op, Date.now() + this.opTimeoutMs, resolve as (v: unknown) => void, reject, undefined, 0));
    });
    this.send(header, payload);
    return promise;
  }

  private send(header: Buffer, payload: Buffer | undefined): void {
    if (this.timer === undefined) this.timer = setTimeout(this.checkTimeouts, this.opTimeoutMs);
    const s = this.socket;
    // Requests of one event-loop turn (a burst of initiator commands) leave in one writev.
    this.cork.hold();
    s.write(header);
    if (payload && payload.length > 0) s.write(payload);
  }

  private allocateId(): number {
    let id = this.nextId;
    while (id === 0 || this.pending.has(id)) id = (id + 1) % TWO_32;
    this.nextId = (id + 1) % TWO_32;
    return id;
  }

  private onFrame(h: FrameHeader, payload: Buffer): void {
    if (!isReply(h)) throw new ReplicaProtocolError('a request arrived at the client');
    if (h.requestId === 0) {
      // The server refused the whole stream (e.g. another version) and is closing.
      throw errorForStatus(h.status, payload.toString('utf8'), h.arg64);
    }
    const p = this.pending.get(h.requestId);
    if (!p) throw new ReplicaProtocolError(`reply to unknown request ${h.requestId}`);
    if (replyOp(h) !== p.op) throw new ReplicaProtocolError(`reply op ${opName(h.op)} does not match request ${opName(p.op)}`);
    this.pending.delete(h.requestId);
    if (h.status !== ReplicaStatus.OK) {
      p.fail(errorForStatus(h.status, payload.toString('utf8'), h.arg64));
      return;
    }
    switch (p.op) {
      case ReplicaOp.READ: p.succeed(payload); break;
      case ReplicaOp.MAP_STATUS: p.succeed({ mapped: (h.flags & ReplicaFlag.MAPPED) !== 0, count: h.arg32 }); break;
      case ReplicaOp.FENCE: p.succeed(h.arg64); break;
      case ReplicaOp.AUTH: p.succeed(Buffer.from(payload)); break;
      case ReplicaOp.HELLO:
        this.blockCount = h.arg64;
        this.blockSize = h.arg32;
        this.thin = (h.flags & ReplicaFlag.THIN) !== 0;
        if (payload.length >= 8) this.generation = payload.readUInt32BE(0) * TWO_32 + payload.readUInt32BE(4);
        p.succeed(undefined);
        break;
      default: p.succeed(undefined);
    }
  }

  private readonly checkTimeouts = (): void => {
    this.timer = undefined;
    const now = Date.now();
    for (const p of this.pending.values()) {
      if (p.deadline <= now) {
        // An unanswered op leaves the replica's state for its blocks unknown: give up on it.
        this.fail(new ReplicaTimeoutError(opName(p.op), this.opTimeoutMs));
        return;
      }
      this.timer = setTimeout(this.checkTimeouts, p.deadline - now);
      return;
    }
  };

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.rejectAll(this.ready ? new DeviceGoneError(`replica unavailable: ${err.message}`) : err);
    this.socket.destroy();
    if (!this.closed) for (const l of this.failureListeners) l(err);
  }

  private rejectAll(err: Error): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.fail(err);
  }
}
