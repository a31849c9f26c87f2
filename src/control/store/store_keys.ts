import { StoreInvalidArgumentError } from './store_errors.ts';
import type { ListOptions, PutOptions } from './store.ts';

/** etcd's default request limit is 1.5 MiB; keys stay far below it. */
export const MAX_KEY_BYTES = 4096;

export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new StoreInvalidArgumentError('key must be a non-empty string');
  if (!key.isWellFormed()) throw new StoreInvalidArgumentError('key must be well-formed Unicode');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new StoreInvalidArgumentError(`key longer than ${MAX_KEY_BYTES} bytes`);
}

export function checkValue(value: string): void {
  if (typeof value !== 'string') throw new StoreInvalidArgumentError('value must be a string');
  if (!value.isWellFormed()) throw new StoreInvalidArgumentError('value must be well-formed Unicode');
}

export function checkRevision(rev: number | undefined, what: string): void {
  if (rev !== undefined && (!Number.isSafeInteger(rev) || rev < 0)) {
    throw new StoreInvalidArgumentError(`${what} must be a non-negative integer`);
  }
}

export function checkPut(key: string, value: string, options: PutOptions): void {
  checkKey(key);
  checkValue(value);
  checkRevision(options.ifRevision, 'ifRevision');
}

export function checkList(prefix: string, options: ListOptions): void {
  if (typeof prefix !== 'string' || !prefix.isWellFormed()) throw new StoreInvalidArgumentError('prefix must be a string');
  if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 1)) {
    throw new StoreInvalidArgumentError('limit must be a positive integer');
  }
}

/**
 * The smallest string greater than every string starting with `prefix`, in code point
 * order (which is UTF-8 byte order); undefined when there is none (empty prefix).
 */
export function prefixEnd(prefix: string): string | undefined {
  const cps = [...prefix].map((c) => c.codePointAt(0) as number);
  while (cps.length > 0) {
    const last = cps.pop() as number;
    if (last < 0x10ffff) {
      cps.push(last + 1 === 0xd800 ? 0xe000 : last + 1);
      return String.fromCodePoint(...cps);
    }
  }
  return undefined;
}

/** Orders keys as both stores do: by UTF-8 bytes (= code points), not UTF-16 units. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
