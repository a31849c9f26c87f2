import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from '../util/log.ts';
import type { BlockDevice } from '../block/block_device.ts';
import { BerthError } from '../util/errors.ts';
import { ReplicaFramer } from './replica_framer.ts';
import { CorkRelease, ReplicaCork } from './replica_cork.ts';
import { decodeRequest, encodeErrorReply, encodeReply, isReply, type ReplicaRequest } from './replica_codec.ts';
import { REPLICA_PROTOCOL_VERSION, REPLY_BIT, ReplicaFlag, ReplicaOp, ReplicaStatus, type FrameHeader } from './replica_protocol.ts';
import {
  ReplicaNotFoundError, ReplicaProtocolError, ReplicaVersionMismatchError, StaleGenerationError, statusForError,
} from './replica_errors.ts';
import type { GenerationRegistry } from './replica_generations.ts';
import { ReplicaPayloadPool } from './replica_payload_pool.ts';
import { REPLICA_AUTH_NONCE_BYTES, ReplicaAuthError, encodeAuthReply, type ReplicaAuthKeys } from './replica_auth.ts';

/** A server's token check, shared by its sessions: the keys, and where a refusal is reported (rate-limited there). */
export interface SessionAuth {
  readonly keys: ReplicaAuthKeys;
  refused(remote: string | undefined): void;
}

export type ReplicaResolver = (volume: string) => BlockDevice | undefined;

/** Requests served at once per connection; past it the socket stops being read (backpressure). */
export const REPLICA_SESSION_MAX_INFLIGHT = 256;

const NO_PAYLOAD = Buffer.alloc(0);

/**
 * One READ or WRITE being served. Recycled by its session, with its settlement
 * callbacks made once, so the hot path allocates no closures per request.
 */
class SessionIo {
  op = 0;
  id = 0;
  count = 0;
  payload: Buffer = NO_PAYLOAD;
  readonly wrote: () => void;
  readonly read: (data: Buffer) => void;
  readonly failed: (err: unknown) => void;

  constructor(session: ReplicaSession) {
    this.wrote = () => session.ioWritten(this);
    this.read = (data) => session.ioRead(this, data);
    this.failed = (err) => session.ioFailed(this, err);
  }
}

/**
 * One client connection to a replica server. Requests run concurrently and are
 * answered as they finish (out of order, matched by request id). The connection is
 * bound to one volume and one generation by HELLO; every I/O is refused once a newer
 * generation has fenced the volume, even if it arrives on an older connection.
 */
export class ReplicaSession {
  private readonly socket: Socket;
  private readonly resolve: ReplicaResolver;
  private readonly generations: GenerationRegistry;
  private readonly log: Logger;
  private readonly maxPayload: number;
  private readonly framer: ReplicaFramer;
  private volume: string | undefined;
  private device: BlockDevice | undefined;
  private generation = 0;
  private readonly cork: ReplicaCork;
  private inflight = 0;
  private refused = false;
  private readonly payloads = new ReplicaPayloadPool();
  private readonly spareIos: SessionIo[] = [];
  /** With keys, HELLO must carry a proof over the nonces of this connection's AUTH. */
  private readonly auth: SessionAuth | undefined;
  private nonces: { client: Buffer; server: Buffer } | undefined;

  constructor(socket: Socket, resolve: ReplicaResolver, generations: GenerationRegistry, maxPayload: number, log: Logger, auth?: SessionAuth) {
    this.socket = socket;
    this.auth = auth;
    this.resolve = resolve;
    this.generations = generations;
    this.maxPayload = maxPayload;
    this.log = log;
    this.framer = new ReplicaFramer((h, p) => this.onFrame(h, p), maxPayload, (len) => this.payloads.take(len));
    this.cork = new ReplicaCork(socket, CorkRelease.IMMEDIATE);
    socket.setNoDelay(true);
    // A peer that vanished without a FIN (power loss, cut link) must not pin this session forever.
    socket.setKeepAlive(true, 5000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'replica connection error'));
  }

  private onData(chunk: Buffer): void {
    try {
      this.framer.push(chunk);
    } catch (err) {
      this.refuseStream(err);
    }
  }

  private onEnd(): void {
    try {
      this.framer.end();
    } catch (err) {
      this.log.warn({ code: (err as BerthError).code }, 'replica client vanished mid-frame');
    }
  }

  /** A broken stream cannot be resynchronised: say why once (request id 0), then close. */
  private refuseStream(err: unknown): void {
    const detail = err instanceof ReplicaVersionMismatchError ? REPLICA_PROTOCOL_VERSION : 0;
    const status = err instanceof BerthError ? statusForError(err) : ReplicaStatus.INTERNAL;
    this.refused = true;
    this.log.warn({ code: (err as BerthError).code, msg: (err as Error).message }, 'replica stream refused');
    if (this.socket.writable) this.socket.end(Buffer.concat(encodeErrorReply(ReplicaOp.HELLO, 0, status, (err as Error).message, detail)));
    this.socket.pause();
  }

  private onFrame(h: FrameHeader, payload: Buffer): void {
    if (isReply(h)) throw new ReplicaProtocolError('a reply arrived at the server');
    if (h.op === ReplicaOp.WRITE || h.op === ReplicaOp.READ) {
      this.io(h, payload);
      return;
    }
    let req: ReplicaRequest;
    try {
      req = decodeRequest(h, payload);
    } catch (err) {
      this.sendError(h.op, h.requestId, err);
      return;
    }
    if (++this.inflight === REPLICA_SESSION_MAX_INFLIGHT) this.socket.pause();
    this.dispatch(req).then(this.settled, (err: unknown) => {
      this.sendError(req.op, req.id, err);
      this.settled();
    });
  }

  /**
   * READ and WRITE, the hot path: checked in place (no request object), run straight on
   * the device, answered from its settlement: one promise step per op.
   */
  private io(h: FrameHeader, payload: Buffer): void {
    const op = h.op;
    const id = h.requestId;
    const lba = h.arg64;
    const count = h.arg32;
    const write = op === ReplicaOp.WRITE;
    // The same checks, in the same order, as decodeRequest and dispatch make for other ops.
    if (h.status !== 0) return this.sendError(op, id, new ReplicaProtocolError(`request ${id} carries a status`));
    if (write && (payload.length === 0 || count === 0)) return this.sendError(op, id, new ReplicaProtocolError(`WRITE request ${id} carries no data`));
    if (!write && payload.length !== 0) return this.sendError(op, id, new ReplicaProtocolError(`READ request ${id} must not carry a payload`));
    if (++this.inflight === REPLICA_SESSION_MAX_INFLIGHT) this.socket.pause();
    const io = this.spareIos.pop() ?? new SessionIo(this);
    io.op = op;
    io.id = id;
    io.count = count;
    try {
      const dev = this.ioDevice(op);
      if (write) {
        if (count * dev.blockSize !== payload.length) throw new ReplicaProtocolError(`WRITE of ${count} blocks carries ${payload.length} bytes`);
        io.payload = payload;
        dev.write(lba, payload, (h.flags & ReplicaFlag.FUA) !== 0).then(io.wrote, io.failed);
      } else {
        if (count * dev.blockSize > this.maxPayload) throw new ReplicaProtocolError(`READ of ${count} blocks exceeds the frame limit`);
        dev.read(lba, count).then(io.read, io.failed);
      }
    } catch (err) {
      this.ioFailed(io, err);
    }
  }

  /** A WRITE landed: its payload buffer is free again, and the ack joins the batch of header-only replies. */
  ioWritten(io: SessionIo): void {
    this.payloads.give(io.payload);
    if (this.socket.writable) this.cork.header(io.op | REPLY_BIT, 0, io.id, 0, 0, ReplicaStatus.OK);
    this.recycle(io);
  }

  ioRead(io: SessionIo, data: Buffer): void {
    this.send(encodeReply(io.op, io.id, 0, 0, io.count, data.length), data);
    this.recycle(io);
  }

  /** Not given back to the payload pool: a device may still be writing parts of a failed write. */
  ioFailed(io: SessionIo, err: unknown): void {
    this.sendError(io.op, io.id, err);
    this.recycle(io);
  }

  private recycle(io: SessionIo): void {
    io.payload = NO_PAYLOAD;
    if (this.spareIos.length < REPLICA_SESSION_MAX_INFLIGHT) this.spareIos.push(io);
    this.settled();
  }

  private readonly settled = (): void => {
    if (this.inflight-- === REPLICA_SESSION_MAX_INFLIGHT && !this.refused) this.socket.resume();
  };

  private async dispatch(req: ReplicaRequest): Promise<void> {
    switch (req.op) {
      case ReplicaOp.PING:
        return this.send(encodeReply(req.op, req.id, 0, 0, 0, 0));
      case ReplicaOp.AUTH:
        return this.authChallenge(req.id, req.clientNonce);
      case ReplicaOp.HELLO:
        if (req.version === REPLICA_PROTOCOL_VERSION && !this.proven(req.proof)) return this.refuseAuth(req.id);
        return this.hello(req.id, req.version, req.volume, req.generation);
      case ReplicaOp.FENCE: {
        const volume = this.bound(req.op);
        if (req.generation < this.generations.get(volume)) throw new StaleGenerationError(this.generations.get(volume));
        await this.generations.raise(volume, req.generation);
        this.generation = req.generation;
        return this.send(encodeReply(req.op, req.id, 0, req.generation, 0, 0));
      }
      default:
        break;
    }
    const dev = this.ioDevice(req.op);
    switch (req.op) {
      case ReplicaOp.FLUSH:
        await dev.flush();
        return this.send(encodeReply(req.op, req.id, 0, 0, 0, 0));
      case ReplicaOp.UNMAP:
        await dev.unmap(req.lba, req.count);
        return this.send(encodeReply(req.op, req.id, 0, 0, 0, 0));
      case ReplicaOp.MAP_STATUS: {
        const st = await dev.mapStatus(req.lba, req.count);
        return this.send(encodeReply(req.op, req.id, st.mapped ? ReplicaFlag.MAPPED : 0, 0, st.count, 0));
      }
    }
  }

  private hello(id: number, version: number, volume: string, generation: number): void {
    if (version !== REPLICA_PROTOCOL_VERSION) {
      return this.send(...encodeErrorReply(ReplicaOp.HELLO, id, ReplicaStatus.VERSION_MISMATCH,
        `server speaks replica protocol version ${REPLICA_PROTOCOL_VERSION}`, REPLICA_PROTOCOL_VERSION));
    }
    if (this.volume !== undefined) throw new ReplicaProtocolError('HELLO sent twice on one connection');
    const dev = this.resolve(volume);
    if (!dev) throw new ReplicaNotFoundError(`no replica named ${JSON.stringify(volume)}`);
    const current = this.generations.get(volume);
    if (generation < current) throw new StaleGenerationError(current);
    this.volume = volume;
    this.device = dev;
    this.generation = generation;
    const gen = Buffer.allocUnsafe(8);
    gen.writeUInt32BE(Math.floor(current / 0x1_0000_0000), 0);
    gen.writeUInt32BE(current >>> 0, 4);
    this.send(encodeReply(ReplicaOp.HELLO, id, dev.thin ? ReplicaFlag.THIN : 0, dev.blockCount, dev.blockSize, 8), gen);
  }

  /** AUTH: prove this server holds the token, and hand out the nonce HELLO's proof must cover. */
  private authChallenge(id: number, clientNonce: Buffer): void {
    if (!this.auth) throw new ReplicaAuthError('this replica server has no token to prove itself with (it runs without --auth-token-file)');
    if (this.nonces !== undefined || this.volume !== undefined) throw new ReplicaProtocolError('AUTH sent twice, or after HELLO');
    const server = randomBytes(REPLICA_AUTH_NONCE_BYTES);
    this.nonces = { client: clientNonce, server };
    const payload = encodeAuthReply(server, this.auth.keys.serverProof(clientNonce, server));
    this.send(encodeReply(ReplicaOp.AUTH, id, 0, 0, 0, payload.length), payload);
  }

  /** Open servers (no token: loopback only, or --insecure-no-auth) take any HELLO. */
  private proven(proof: Buffer): boolean {
    if (!this.auth) return true;
    return this.nonces !== undefined && this.auth.keys.acceptsClient(this.nonces.client, this.nonces.server, proof);
  }

  /** A client that cannot prove it holds the token gets one answer, then the connection closes. */
  private refuseAuth(id: number): void {
    this.refused = true;
    this.auth?.refused(this.socket.remoteAddress);
    const [h, msg] = encodeErrorReply(ReplicaOp.HELLO, id, ReplicaStatus.UNAUTHENTICATED, 'the replica server demands a token proof (AUTH, then HELLO with the proof)');
    if (this.socket.writable) this.socket.end(Buffer.concat([h, msg]));
    this.socket.pause();
  }

  private bound(op: number): string {
    if (this.volume === undefined) throw new ReplicaProtocolError(`op 0x${op.toString(16)} before HELLO`);
    return this.volume;
  }

  /** The device for an I/O, after the fence check that makes a stale nexus harmless. */
  private ioDevice(op: number): BlockDevice {
    const volume = this.bound(op);
    const current = this.generations.get(volume);
    if (this.generation < current) throw new StaleGenerationError(current);
    return this.device as BlockDevice;
  }

  private sendError(op: number, id: number, err: unknown): void {
    const status = statusForError(err);
    const detail = err instanceof StaleGenerationError ? err.currentGeneration : 0;
    // Only our own errors have messages fit for the wire; anything else could leak internals.
    const message = err instanceof BerthError ? err.message : 'internal error';
    if (!(err instanceof BerthError)) this.log.error({ err }, 'replica request failed unexpectedly');
    this.send(...encodeErrorReply(op, id, status, message, detail));
  }

  /** Replies finishing in the same event-loop turn leave in one write (ReplicaCork). */
  private send(header: Buffer, payload?: Buffer): void {
    const s = this.socket;
    if (!s.writable) return;
    this.cork.hold();
    s.write(header);
    if (payload && payload.length > 0) s.write(payload);
  }
}
