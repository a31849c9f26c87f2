import { BerthError } from '../util/errors.ts';

/** No pool superblock (no magic) at the path. */
export class PoolNotFoundError extends BerthError {
  constructor(message = 'no pool found') { super('POOL_NOT_FOUND', message); }
}

/** Pool metadata failed its checksum or is inconsistent. */
export class PoolCorruptError extends BerthError {
  constructor(message: string) { super('POOL_CORRUPT', message); }
}

/** The pool was written by a format version this code does not read. */
export class PoolVersionError extends BerthError {
  constructor(version: number) { super('POOL_VERSION', `unsupported pool format version ${version}`); }
}

/** Create refused: the path already holds a pool. */
export class PoolExistsError extends BerthError {
  constructor() { super('POOL_EXISTS', 'a pool already exists at this path'); }
}

export class PoolNotEmptyError extends BerthError {
  constructor() { super('POOL_NOT_EMPTY', 'pool still has volumes or snapshots'); }
}

export class PoolClosedError extends BerthError {
  constructor() { super('POOL_CLOSED', 'pool is closed'); }
}

export class VolumeExistsError extends BerthError {
  constructor(name: string) { super('VOLUME_EXISTS', `volume ${name} already exists`); }
}

export class VolumeNotFoundError extends BerthError {
  constructor(name: string) { super('VOLUME_NOT_FOUND', `volume ${name} not found`); }
}

export class TooManyVolumesError extends BerthError {
  constructor(max: number) { super('TOO_MANY_VOLUMES', `pool holds at most ${max} volumes`); }
}

/** A size (of a pool, volume or extent) that is zero, misaligned or too large. */
export class InvalidSizeError extends BerthError {
  constructor(message: string) { super('INVALID_SIZE', message); }
}

export class InvalidNameError extends BerthError {
  constructor() { super('INVALID_NAME', 'names are 1-64 characters of [A-Za-z0-9._-]'); }
}

export class ShrinkNotSupportedError extends BerthError {
  constructor() { super('SHRINK_NOT_SUPPORTED', 'volumes can only grow'); }
}

export class SnapshotExistsError extends BerthError {
  constructor(name: string) { super('SNAPSHOT_EXISTS', `snapshot ${name} already exists`); }
}

export class SnapshotNotFoundError extends BerthError {
  constructor(name: string) { super('SNAPSHOT_NOT_FOUND', `snapshot ${name} not found`); }
}

/** Another engine holds the pool (docs/pool-format.md "Ownership"); `holder` names it. */
export class PoolInUseError extends BerthError {
  constructor(holder: string, why: string) { super('POOL_IN_USE', `pool is in use by ${holder}: ${why}`); }
}

/** Create refused: the target holds data or a known signature, and the request did not say force. */
export class PoolDeviceNotEmptyError extends BerthError {
  constructor(what: string) { super('POOL_DEVICE_NOT_EMPTY', `refusing to format: ${what}; pass force to overwrite it`); }
}
