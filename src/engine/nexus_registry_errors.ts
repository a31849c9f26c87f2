import { BerthError } from '../util/errors.ts';

/** Errors of the engine's nexus registry (the nexus itself has its own in src/nexus). */

export class NexusExistsError extends BerthError {
  constructor(name: string) { super('NEXUS_EXISTS', `nexus '${name}' already exists on this engine`); }
}

export class NexusNotFoundError extends BerthError {
  constructor(name: string) { super('NEXUS_NOT_FOUND', `no nexus '${name}' on this engine`); }
}

/** The nexus is registered but not serving: it could not be opened, or a newer generation fenced it. */
export class NexusUnavailableError extends BerthError {
  constructor(name: string, why: string) { super('NEXUS_UNAVAILABLE', `nexus '${name}' is not serving: ${why}`); }
}

/** A pool volume is a replica of a nexus on this engine: remove it from the nexus first. */
export class VolumeInUseError extends BerthError {
  constructor(pool: string, volume: string, nexus: string) {
    super('VOLUME_IN_USE', `volume '${pool}/${volume}' is a replica of nexus '${nexus}'; remove it from the nexus first`);
  }
}
