import { BHS_LENGTH, DIGEST_LENGTH } from './constants.ts';
import { crc32cUpdate } from '../util/crc32c.ts';
import { PduFramingError } from './errors.ts';

/**
 * Turns a byte stream into PDUs (RFC 7143 §11.2). Pure: it knows nothing of sockets.
 *
 * The read state is explicit: BHS, then the rest of the header (AHS and header
 * digest), then the data segment (with padding and data digest). Lengths are checked
 * against the limit the moment the BHS is complete, before anything is allocated.
 * A section lying wholly inside one chunk is handed out as a view of that chunk
 * (chunks from a net.Socket are never reused); only sections split across chunks
 * are copied, each into a fresh buffer.
 */
export interface RawPdu {
  bhs: Buffer;
  /** Additional header segments, or undefined when TotalAHSLength is 0. */
  ahs: Buffer | undefined;
  /** The data segment without padding (a view; may be empty). */
  data: Buffer;
  /** False when a data digest was negotiated and did not match. */
  dataDigestOk: boolean;
}

export interface FramerSettings {
  /** Our MaxRecvDataSegmentLength: longer data segments end the connection. */
  maxDataSegmentLength: number;
  headerDigest: boolean;
  dataDigest: boolean;
}

/**
 * Chooses where a PDU's data segment goes: a buffer of exactly `dataLength` bytes
 * (e.g. the write buffer of the task a Data-Out belongs to), saving a copy; or
 * undefined for a buffer of the framer's own.
 */
export type DataPlacement = (bhs: Buffer, dataLength: number) => Buffer | undefined;

const State = { BHS: 0, HEADER_REST: 1, DATA: 2, DATA_PLACED: 3, DATA_TAIL: 4 } as const;
type State = (typeof State)[keyof typeof State];

const EMPTY = Buffer.alloc(0);

export class PduFramer {
  readonly settings: FramerSettings;
  private state: State = State.BHS;
  private need = BHS_LENGTH;
  private partial: Buffer | undefined;
  private fill = 0;
  private stopped = false;
  // The PDU being assembled.
  private bhs: Buffer = EMPTY;
  private ahsLength = 0;
  private dataLength = 0;
  private ahs: Buffer | undefined;

  private readonly place: DataPlacement | undefined;
  private placed: Buffer | undefined;

  constructor(settings: FramerSettings, place?: DataPlacement) {
    this.settings = { ...settings };
    this.place = place;
  }

  /** Stops delivering PDUs from the chunk being pushed (the connection is going away). */
  stop(): void {
    this.stopped = true;
  }

  /** True when the stream ended on a PDU boundary (a clean EOF). */
  atBoundary(): boolean {
    return this.state === State.BHS && this.fill === 0;
  }

  /** Feeds one chunk; calls onPdu for every PDU it completes. Throws PduFramingError. */
  push(chunk: Buffer, onPdu: (pdu: RawPdu) => void): void {
    let off = 0;
    const len = chunk.length;
    while (!this.stopped) {
      let section: Buffer;
      if (this.fill === 0 && this.partial === undefined && len - off >= this.need) {
        section = chunk.subarray(off, off + this.need);
        off += this.need;
      } else {
        if (off >= len) return;
        if (this.partial === undefined) this.partial = Buffer.allocUnsafe(this.need);
        const n = Math.min(this.need - this.fill, len - off);
        chunk.copy(this.partial, this.fill, off, off + n);
        this.fill += n;
        off += n;
        if (this.fill < this.need) return;
        if (this.state === State.DATA_PLACED) {
          // `partial` was the placement target, which is now full.
          this.partial = undefined;
          this.fill = 0;
          const pdu = this.consume(this.placed!);
          if (pdu !== undefined) onPdu(pdu);
          continue;
        }
        section = this.partial;
        this.partial = undefined;
        this.fill = 0;
      }
      const pdu = this.consume(section);
      if (pdu !== undefined) onPdu(pdu);
    }
  }

  private consume(section: Buffer): RawPdu | undefined {
    const s = this.settings;
    if (this.state === State.BHS) {
      this.bhs = section;
      this.ahsLength = section[4] * 4;
      this.dataLength = (section[5] << 16) | (section[6] << 8) | section[7];
      if (this.dataLength > s.maxDataSegmentLength) {
        throw new PduFramingError('PDU_TOO_LONG', `data segment of ${this.dataLength} bytes exceeds MaxRecvDataSegmentLength ${s.maxDataSegmentLength}`);
      }
      this.ahs = undefined;
      const rest = this.ahsLength + (s.headerDigest ? DIGEST_LENGTH : 0);
      if (rest > 0) return this.expect(State.HEADER_REST, rest);
      return this.afterHeader();
    }
    if (this.state === State.HEADER_REST) {
      if (this.ahsLength > 0) this.ahs = section.subarray(0, this.ahsLength);
      if (s.headerDigest) {
        let crc = crc32cUpdate(0, this.bhs);
        if (this.ahsLength > 0) crc = crc32cUpdate(crc, section, 0, this.ahsLength);
        if (crc !== section.readUInt32LE(this.ahsLength)) throw new PduFramingError('HEADER_DIGEST', 'header digest mismatch');
      }
      return this.afterHeader();
    }
    const padded = (this.dataLength + 3) & ~3;
    if (this.state === State.DATA_PLACED) {
      const tail = padded - this.dataLength + (s.dataDigest ? DIGEST_LENGTH : 0);
      if (tail > 0) return this.expect(State.DATA_TAIL, tail);
      return this.finishPlaced(true);
    }
    if (this.state === State.DATA_TAIL) {
      let ok = true;
      if (s.dataDigest) {
        const pad = padded - this.dataLength;
        ok = crc32cUpdate(crc32cUpdate(0, this.placed!), section, 0, pad) === section.readUInt32LE(pad);
      }
      return this.finishPlaced(ok);
    }
    let ok = true;
    if (s.dataDigest) ok = crc32cUpdate(0, section, 0, padded) === section.readUInt32LE(padded);
    return this.finish(section.subarray(0, this.dataLength), ok);
  }

  private finishPlaced(ok: boolean): RawPdu {
    const data = this.placed!;
    this.placed = undefined;
    return this.finish(data, ok);
  }

  private afterHeader(): RawPdu | undefined {
    if (this.dataLength === 0) return this.finish(EMPTY, true);
    const dest = this.place?.(this.bhs, this.dataLength);
    if (dest !== undefined && dest.length === this.dataLength) {
      this.placed = dest;
      this.partial = dest;
      this.fill = 0;
      return this.expect(State.DATA_PLACED, this.dataLength);
    }
    const padded = (this.dataLength + 3) & ~3;
    return this.expect(State.DATA, padded + (this.settings.dataDigest ? DIGEST_LENGTH : 0));
  }

  private expect(state: State, need: number): undefined {
    this.state = state;
    this.need = need;
    return undefined;
  }

  private finish(data: Buffer, dataDigestOk: boolean): RawPdu {
    const pdu: RawPdu = { bhs: this.bhs, ahs: this.ahs, data, dataDigestOk };
    this.state = State.BHS;
    this.need = BHS_LENGTH;
    this.bhs = EMPTY;
    return pdu;
  }
}
