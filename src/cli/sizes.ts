import { BerthError } from '../util/errors.ts';

/** Binary multiples: storage people say 10G and mean GiB, as lvcreate and qemu-img do. */
const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50 };

export class InvalidSizeError extends BerthError {
  constructor(text: string) {
    super('INVALID_SIZE', `cannot read '${text}' as a size; use bytes or a number with K, M, G, T or P (binary)`);
  }
}

/** Parses `512`, `512M`, `10G`, `1.5T`, `64TiB`, `4k` into bytes; the result is a whole number. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtTpP]?)(?:i?[bB])?\s*$/.exec(text);
  if (!m) throw new InvalidSizeError(text);
  const bytes = Number(m[1]) * UNITS[m[2].toUpperCase()];
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new InvalidSizeError(text);
  return bytes;
}

// The formatter lives in util: the pool's NO_SPACE messages use it too.
export { formatBytes } from '../util/bytes.ts';
