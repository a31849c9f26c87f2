import { BerthError } from '../util/errors.ts';
import { DeviceGoneError, MediumError, NoSpaceError, OutOfRangeError } from '../block/errors.ts';
import { REPLICA_PROTOCOL_VERSION, ReplicaStatus, statusName } from './replica_protocol.ts';
import { ReplicaAuthError } from './replica_auth.ts';

/** A frame broke the protocol (bad magic, unknown op, malformed body). */
export class ReplicaProtocolError extends BerthError {
  constructor(message: string) { super('REPLICA_PROTOCOL_ERROR', message); }
}

/** A frame announced a payload above the limit; raised before anything is allocated. */
export class ReplicaFrameTooLargeError extends BerthError {
  constructor(length: number, limit: number) {
    super('REPLICA_FRAME_TOO_LARGE', `frame payload of ${length} bytes exceeds the limit of ${limit}`);
  }
}

/** The stream ended inside a frame (a clean EOF only ever falls between frames). */
export class ReplicaTruncatedFrameError extends BerthError {
  constructor(have: number, want: number) {
    super('REPLICA_TRUNCATED_FRAME', `connection ended mid-frame after ${have} of ${want} bytes`);
  }
}

/** The peer speaks another protocol version. */
export class ReplicaVersionMismatchError extends BerthError {
  readonly peerVersion: number;
  constructor(peerVersion: number, ourVersion: number) {
    super('REPLICA_VERSION_MISMATCH', `peer speaks replica protocol version ${peerVersion}, this side speaks ${ourVersion}`);
    this.peerVersion = peerVersion;
  }
}

/** The replica has been fenced by a newer nexus generation. */
export class StaleGenerationError extends BerthError {
  readonly currentGeneration: number;
  constructor(currentGeneration: number, message?: string) {
    super('STALE_GENERATION', message ?? `replica is fenced at generation ${currentGeneration}`);
    this.currentGeneration = currentGeneration;
  }
}

/** The server has no replica by the requested volume name. */
export class ReplicaNotFoundError extends BerthError {
  constructor(message = 'no such replica') { super('REPLICA_NOT_FOUND', message); }
}

/** An operation got no reply within the per-op timeout. */
export class ReplicaTimeoutError extends BerthError {
  constructor(op: string, timeoutMs: number) { super('REPLICA_TIMEOUT', `${op} got no reply within ${timeoutMs} ms`); }
}

/** The server refused a request for a reason that is the client's fault or its own bug. */
export class ReplicaRemoteError extends BerthError {
  readonly status: number;
  constructor(status: number, message: string) {
    super('REPLICA_REMOTE_ERROR', `${statusName(status)}: ${message}`);
    this.status = status;
  }
}

/** Wire status for an error raised while serving a request (server side of the boundary). */
export function statusForError(err: unknown): number {
  if (err instanceof NoSpaceError) return ReplicaStatus.NO_SPACE;
  if (err instanceof OutOfRangeError) return ReplicaStatus.OUT_OF_RANGE;
  if (err instanceof MediumError) return ReplicaStatus.MEDIUM_ERROR;
  if (err instanceof StaleGenerationError) return ReplicaStatus.STALE_GENERATION;
  if (err instanceof ReplicaVersionMismatchError) return ReplicaStatus.VERSION_MISMATCH;
  if (err instanceof ReplicaNotFoundError) return ReplicaStatus.NOT_FOUND;
  if (err instanceof ReplicaProtocolError || err instanceof ReplicaFrameTooLargeError || err instanceof ReplicaTruncatedFrameError) {
    return ReplicaStatus.INVALID_REQUEST;
  }
  if (err instanceof DeviceGoneError) return ReplicaStatus.DEVICE_GONE;
  if (err instanceof ReplicaAuthError) return ReplicaStatus.UNAUTHENTICATED;
  return ReplicaStatus.INTERNAL;
}

/**
 * The error a client raises for a non-OK reply (client side of the boundary).
 * `arg64` carries the replica's current generation on STALE_GENERATION and the
 * replica's version on VERSION_MISMATCH.
 */
export function errorForStatus(status: number, message: string, arg64: number): Error {
  switch (status) {
    case ReplicaStatus.NO_SPACE: return new NoSpaceError(message);
    case ReplicaStatus.OUT_OF_RANGE: return new OutOfRangeError(message);
    case ReplicaStatus.MEDIUM_ERROR: return new MediumError(message);
    case ReplicaStatus.STALE_GENERATION: return new StaleGenerationError(arg64, message);
    case ReplicaStatus.VERSION_MISMATCH: return new ReplicaVersionMismatchError(arg64, REPLICA_PROTOCOL_VERSION);
    case ReplicaStatus.NOT_FOUND: return new ReplicaNotFoundError(message);
    case ReplicaStatus.DEVICE_GONE: return new DeviceGoneError(message);
    case ReplicaStatus.UNAUTHENTICATED: return new ReplicaAuthError(message);
    default: return new ReplicaRemoteError(status, message);
  }
}
