import { BerthError } from '../../util/errors.ts';

/** A compare-and-swap lost: the key changed since the caller read it. */
export class StoreConflictError extends BerthError {
  readonly key: string;
  /** The revision the caller expected; `actual` is 0 when the key does not exist. */
  readonly expected: number;
  readonly actual: number;
  constructor(key: string, expected: number, actual: number) {
    super('STORE_CONFLICT', `key ${key} is at revision ${actual}, expected ${expected}`);
    this.key = key;
    this.expected = expected;
    this.actual = actual;
  }
}

/** The write was refused because the writer's leadership fence is gone. */
export class StoreFencedError extends BerthError {
  constructor(fenceKey: string) {
    super('STORE_FENCED', `leadership ${fenceKey} is no longer held; write refused`);
  }
}

/** The store cannot be reached or answered with an error of its own. */
export class StoreUnavailableError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/** The caller passed a key or option the store cannot take. */
export class StoreInvalidArgumentError extends BerthError {
  constructor(message: string) {
    super('STORE_INVALID_ARGUMENT', message);
  }
}
