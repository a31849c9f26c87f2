import { BerthError } from '../util/errors.ts';

/** The pool (or another backing store) has no free extent for a thin allocation. */
export class NoSpaceError extends BerthError {
  constructor(message = 'no free space in pool') { super('NO_SPACE', message); }
}

/** An I/O addressed blocks past the end of the device. */
export class OutOfRangeError extends BerthError {
  constructor(message = 'LBA out of range') { super('OUT_OF_RANGE', message); }
}

/** The backing store failed the I/O (EIO and friends). */
export class MediumError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('MEDIUM_ERROR', message, options); }
}

/** The device was closed or deleted while I/O was addressed to it. */
export class DeviceGoneError extends BerthError {
  constructor(message = 'device is closed') { super('DEVICE_GONE', message); }
}
