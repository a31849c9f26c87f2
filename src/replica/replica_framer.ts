import { HeaderOffset, REPLICA_HEADER_LENGTH, REPLICA_MAGIC, REPLICA_MAX_PAYLOAD_DEFAULT, REPLICA_PROTOCOL_VERSION, type FrameHeader } from './replica_protocol.ts';
import { decodeHeader } from './replica_codec.ts';
import {
  ReplicaFrameTooLargeError, ReplicaProtocolError, ReplicaTruncatedFrameError, ReplicaVersionMismatchError,
} from './replica_errors.ts';

const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32BE(REPLICA_MAGIC, 0);
/** Magic and version: the part of the header every version keeps in place. */
const PREFIX_LENGTH = HeaderOffset.VERSION + 1;

export type FrameHandler = (header: FrameHeader, payload: Buffer) => void;
/** Supplies the buffer a payload that spans chunks is assembled into. */
export type PayloadAllocator = (len: number) => Buffer;

const EMPTY = Buffer.alloc(0);

/**
 * Cuts a byte stream into frames. Two states: collecting a header (into a 32-byte
 * scratch buffer only when it straddles chunks) and collecting a payload (sliced out of
 * the chunk without copying when it lies in one chunk). The magic and version are
 * checked byte by byte as they arrive, so a peer of another version gets told so even if
 * its header is shorter than ours; the payload length is checked against the limit the
 * moment the header is complete, before any allocation. After an error the framer
 * stays failed: the connection must be closed.
 */
export class ReplicaFramer {
  private readonly onFrame: FrameHandler;
  private readonly maxPayload: number;
  private readonly scratch = Buffer.allocUnsafe(REPLICA_HEADER_LENGTH);
  private headerHave = 0;
  private header: FrameHeader | undefined;
  private payload: Buffer | undefined;
  private payloadHave = 0;
  private failure: Error | undefined;
  private readonly alloc: PayloadAllocator;

  constructor(onFrame: FrameHandler, maxPayload = REPLICA_MAX_PAYLOAD_DEFAULT, alloc: PayloadAllocator = Buffer.allocUnsafe) {
    this.onFrame = onFrame;
    this.maxPayload = maxPayload;
    this.alloc = alloc;
  }

  /** Feeds bytes; calls the handler for each complete frame. Throws on a protocol error. */
  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }

  /** The stream ended: fine between frames, an error inside one. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.header) throw (this.failure = new ReplicaTruncatedFrameError(REPLICA_HEADER_LENGTH + this.payloadHave, REPLICA_HEADER_LENGTH + this.header.payloadLength));
    if (this.headerHave > 0) throw (this.failure = new ReplicaTruncatedFrameError(this.headerHave, REPLICA_HEADER_LENGTH));
  }

  /** True while part of a frame has been received. */
  get midFrame(): boolean {
    return this.header !== undefined || this.headerHave > 0;
  }

  private consume(chunk: Buffer): void {
    let at = 0;
    const len = chunk.length;
    while (at < len) {
      if (this.header === undefined) {
        if (this.headerHave === 0 && len - at >= REPLICA_HEADER_LENGTH) {
          if (chunk.readUInt32BE(at) !== REPLICA_MAGIC || chunk[at + HeaderOffset.VERSION] !== REPLICA_PROTOCOL_VERSION) {
            checkPrefix(chunk, at, 0, PREFIX_LENGTH); // throws the precise error
          }
          this.startPayload(decodeHeader(chunk, at));
          at += REPLICA_HEADER_LENGTH;
        } else {
          const take = Math.min(REPLICA_HEADER_LENGTH - this.headerHave, len - at);
          chunk.copy(this.scratch, this.headerHave, at, at + take);
          checkPrefix(this.scratch, 0, this.headerHave, Math.min(this.headerHave + take, PREFIX_LENGTH));
          this.headerHave += take;
          at += take;
          if (this.headerHave < REPLICA_HEADER_LENGTH) return;
          this.headerHave = 0;
          this.startPayload(decodeHeader(this.scratch, 0));
        }
        if (this.header === undefined) continue; // an empty-payload frame was delivered
      }
      const header = this.header;
      const want = header.payloadLength;
      if (this.payload === undefined && len - at >= want) {
        const payload = chunk.subarray(at, at + want);
        at += want;
        this.header = undefined;
        this.onFrame(header, payload);
        continue;
      }
      if (this.payload === undefined) this.payload = this.alloc(want);
      const take = Math.min(want - this.payloadHave, len - at);
      chunk.copy(this.payload, this.payloadHave, at, at + take);
      this.payloadHave += take;
      at += take;
      if (this.payloadHave === want) {
        const payload = this.payload;
        this.header = undefined;
        this.payload = undefined;
        this.payloadHave = 0;
        this.onFrame(header, payload);
      }
    }
  }

  private startPayload(header: FrameHeader): void {
    if (header.payloadLength > this.maxPayload) throw new ReplicaFrameTooLargeError(header.payloadLength, this.maxPayload);
    if (header.payloadLength === 0) {
      this.onFrame(header, EMPTY);
      return;
    }
    this.header = header;
  }
}

/** Checks prefix bytes [from, to) of a header that starts at `base`. */
function checkPrefix(b: Buffer, base: number, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const byte = b[base + i];
    if (i < 4) {
      if (byte !== MAGIC_BYTES[i]) throw new ReplicaProtocolError('bad frame magic: the peer does not speak the Berth replica protocol');
    } else if (byte !== REPLICA_PROTOCOL_VERSION) {
      throw new ReplicaVersionMismatchError(byte, REPLICA_PROTOCOL_VERSION);
    }
  }
}
