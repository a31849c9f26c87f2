import type { PrRegistration } from './pr_state.ts';

/** PROTOCOL IDENTIFIER of iSCSI (SPC-4 7.6.1). */
const PROTOCOL_ISCSI = 0x5;
const FORMAT_NAME = 0x00;
const FORMAT_NAME_AND_ISID = 0x40;
const ISID_SEPARATOR = ',i,0x';

export interface TransportIdPort { initiatorName: string; isid?: string }

/**
 * Encodes an iSCSI TransportID (SPC-4 7.6.4.6): format 01b with the ISID when the
 * registration names one initiator port, 00b (name only) otherwise.
 */
export function encodeTransportId(reg: PrRegistration): Buffer {
  const text = reg.isid !== undefined ? `${reg.initiatorName}${ISID_SEPARATOR}${reg.isid}` : reg.initiatorName;
  const raw = Buffer.from(text, 'utf8');
  const padded = (raw.length + 1 + 3) & ~3;
  const out = Buffer.alloc(4 + padded);
  out[0] = (reg.isid !== undefined ? FORMAT_NAME_AND_ISID : FORMAT_NAME) | PROTOCOL_ISCSI;
  out.writeUInt16BE(padded, 2);
  raw.copy(out, 4);
  return out;
}

/**
 * Decodes one iSCSI TransportID at `offset`. Returns undefined for another protocol
 * or a malformed id; `length` is how many bytes it took.
 */
export function decodeTransportId(buf: Buffer, offset: number): { port: TransportIdPort; length: number } | undefined {
  if (offset + 4 > buf.length) return undefined;
  if ((buf[offset] & 0x0f) !== PROTOCOL_ISCSI) return undefined;
  const format = buf[offset] & 0xc0;
  const additional = buf.readUInt16BE(offset + 2);
  if (additional < 4 || additional % 4 !== 0 || offset + 4 + additional > buf.length) return undefined;
  const body = buf.subarray(offset + 4, offset + 4 + additional);
  const nul = body.indexOf(0);
  const text = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
  if (format === FORMAT_NAME) {
    if (text.length === 0) return undefined;
    return { port: { initiatorName: text.toLowerCase() }, length: 4 + additional };
  }
  if (format === FORMAT_NAME_AND_ISID) {
    const at = text.toLowerCase().indexOf(ISID_SEPARATOR);
    if (at <= 0) return undefined;
    const isid = text.slice(at + ISID_SEPARATOR.length).toLowerCase();
    if (!/^[0-9a-f]{12}$/.test(isid)) return undefined;
    return { port: { initiatorName: text.slice(0, at).toLowerCase(), isid }, length: 4 + additional };
  }
  return undefined;
}
