import { TextFormatError } from './errors.ts';

/**
 * The key=value<NUL> text format of Login and Text PDUs (RFC 7143 §6.1).
 * Pure; limits are checked before strings are built.
 */

export interface TextLimits {
  /** All text of one negotiation exchange (continued PDUs included). */
  maxTotal: number;
  maxKey: number;
  maxValue: number;
}

/** RFC 7143 §6.1: a key is at most 63 bytes; 8192 for a value covers CHAP_C/CHAP_R in hex. */
export const DEFAULT_TEXT_LIMITS: TextLimits = { maxTotal: 65536, maxKey: 63, maxValue: 8192 };

const KEY_CHAR = /^[A-Za-z0-9.\-+@_]+$/;

export type TextPairs = Array<[key: string, value: string]>;

export function decodeText(data: Buffer, limits: TextLimits = DEFAULT_TEXT_LIMITS): TextPairs {
  if (data.length > limits.maxTotal) throw new TextFormatError('TEXT_TOO_LONG', `text of ${data.length} bytes exceeds ${limits.maxTotal}`);
  const pairs: TextPairs = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0, start);
    if (end < 0) end = data.length;
    if (end > start) pairs.push(decodePair(data, start, end, limits));
    start = end + 1;
  }
  return pairs;
}

function decodePair(data: Buffer, start: number, end: number, limits: TextLimits): [string, string] {
  const eq = data.indexOf(0x3d, start);
  if (eq < 0 || eq >= end) throw new TextFormatError('TEXT_MALFORMED', 'text entry without "="');
  if (eq - start > limits.maxKey) throw new TextFormatError('KEY_TOO_LONG', `key longer than ${limits.maxKey} bytes`);
  if (end - eq - 1 > limits.maxValue) throw new TextFormatError('VALUE_TOO_LONG', `value longer than ${limits.maxValue} bytes`);
  const key = data.toString('latin1', start, eq);
  if (!KEY_CHAR.test(key)) throw new TextFormatError('TEXT_MALFORMED', 'key has characters outside RFC 7143 §6.1');
  return [key, data.toString('utf8', eq + 1, end)];
}

export function encodeText(pairs: Iterable<readonly [string, string]>): Buffer {
  let s = '';
  for (const [k, v] of pairs) s += `${k}=${v}\0`;
  return Buffer.from(s, 'utf8');
}
