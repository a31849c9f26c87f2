import { RejectReason, TargetOpcode, RESERVED_TAG } from './constants.ts';
import { decodePdu, encodePdu } from './pdu.ts';
import { decodeText, encodeText, type TextPairs, DEFAULT_TEXT_LIMITS } from './text.ts';
import { TextFormatError } from './errors.ts';
import type { RawPdu } from './framer.ts';
import type { Session, TargetEntry } from './session.ts';
import type { DataPathConnection } from './scsi_command.ts';

/**
 * Text requests in full feature phase (RFC 7143 §11.10): SendTargets (§6.3 discovery,
 * Appendix C) for discovery and normal sessions. Long answers go out in pieces the
 * initiator pulls with empty Text Requests carrying our Target Transfer Tag.
 */

export interface DiscoveryContext {
  targets(): Iterable<TargetEntry>;
  /** host:port for TargetAddress, as the initiator reached us. */
  portalAddress(): string;
  readonly targetPortalGroupTag: number;
}

export function visibleTo(t: TargetEntry, initiatorName: string): boolean {
  return t.allowedInitiators === undefined || t.allowedInitiators.includes(initiatorName);
}

/** The SendTargets answer: TargetName then TargetAddress for every target asked for. */
export function sendTargets(value: string, s: Session, ctx: DiscoveryContext): TextPairs {
  const out: TextPairs = [];
  const address = `${ctx.portalAddress()},${ctx.targetPortalGroupTag}`;
  for (const t of ctx.targets()) {
    if (!visibleTo(t, s.initiatorName)) continue;
    // In a normal session only the session's own target is reported (RFC 7143 §12.3).
    if (!s.discovery && t !== s.target && t.iqn !== s.target?.iqn) continue;
    if (value !== 'All' && value !== '' && value !== t.iqn) continue;
    if (value === '' && s.discovery) continue;
    out.push(['TargetName', t.iqn], ['TargetAddress', address]);
  }
  return out;
}

/** Per-session state of a text exchange that spans several PDUs. */
export class TextExchange {
  private requestParts: Buffer[] = [];
  private requestBytes = 0;
  private reply: Buffer | undefined;
  private replyOffset = 0;
  private ttt = RESERVED_TAG;
  private itt = RESERVED_TAG;

  handle(s: Session, c: DataPathConnection, pdu: RawPdu, ctx: DiscoveryContext): void {
    const f = decodePdu(pdu.bhs).fields;
    const itt = f.itt as number;
    const ttt = f.ttt as number;
    if (ttt !== RESERVED_TAG) {
      // A continuation pull for the answer in progress.
      if (ttt !== this.ttt || itt !== this.itt || this.reply === undefined) return c.reject(pdu, RejectReason.INVALID_PDU_FIELD);
      return this.sendPiece(s, c, f.lun as number);
    }
    this.reply = undefined;
    this.requestBytes += pdu.data.length;
    if (this.requestBytes > DEFAULT_TEXT_LIMITS.maxTotal) {
      this.requestParts = [];
      this.requestBytes = 0;
      return c.reject(pdu, RejectReason.PROTOCOL_ERROR);
    }
    this.requestParts.push(pdu.data);
    if (f.continue) {
      this.itt = itt;
      this.ttt = s.allocateTtt();
      return this.respond(s, c, f.lun as number, Buffer.alloc(0), false, this.ttt);
    }
    const text = Buffer.concat(this.requestParts);
    this.requestParts = [];
    this.requestBytes = 0;
    let pairs: TextPairs;
    try {
      pairs = decodeText(text);
    } catch (err) {
      if (err instanceof TextFormatError) return c.reject(pdu, RejectReason.PROTOCOL_ERROR);
      throw err;
    }
    const answers: TextPairs = [];
    for (const [k, v] of pairs) {
      if (k === 'SendTargets') answers.push(...sendTargets(v, s, ctx));
      else answers.push([k, 'NotUnderstood']);
    }
    this.reply = encodeText(answers);
    this.replyOffset = 0;
    this.itt = itt;
    this.ttt = RESERVED_TAG;
    this.sendPiece(s, c, f.lun as number);
  }

  private sendPiece(s: Session, c: DataPathConnection, lun: number): void {
    const reply = this.reply!;
    const max = s.params.initiatorMaxRecvDataSegmentLength;
    const piece = reply.subarray(this.replyOffset, this.replyOffset + max);
    this.replyOffset += piece.length;
    const more = this.replyOffset < reply.length;
    if (more) {
      this.ttt = s.allocateTtt();
    } else {
      this.reply = undefined;
      this.ttt = RESERVED_TAG;
    }
    this.respond(s, c, lun, piece, !more, this.ttt);
  }

  private respond(s: Session, c: DataPathConnection, lun: number, data: Buffer, final: boolean, ttt: number): void {
    s.updateWindow();
    c.send(encodePdu(TargetOpcode.TEXT_RESPONSE, {
      final, continue: !final && data.length > 0,
      lun: lun < 16384 ? lun : 0, itt: this.itt, ttt, statSN: c.takeStatSN(), expCmdSN: s.expCmdSN, maxCmdSN: s.maxCmdSN,
      dataSegmentLength: data.length,
    }), data);
  }
}
