import { BerthError } from '../util/errors.ts';

/** The request itself is malformed in a way a JSON schema cannot express. */
export class InvalidArgumentError extends BerthError {
  constructor(message: string) { super('INVALID_ARGUMENT', message); }
}

/** A pool with this name or path is already registered with the engine. */
export class PoolExistsError extends BerthError {
  constructor(message: string) { super('POOL_EXISTS', message); }
}

/** No pool of that name is registered with the engine. */
export class PoolNotFoundError extends BerthError {
  constructor(name: string) { super('POOL_NOT_FOUND', `pool '${name}' is not registered`); }
}

/** The pool is registered but could not be imported; only destroy (forget) works on it. */
export class PoolFaultedError extends BerthError {
  constructor(name: string, reason: string) { super('POOL_FAULTED', `pool '${name}' is faulted: ${reason}`); }
}

/** The volume is exported; unexport it first. */
export class VolumeExportedError extends BerthError {
  constructor(pool: string, volume: string) {
    super('VOLUME_EXPORTED', `volume '${pool}/${volume}' is exported; unexport it first`);
  }
}

/** The volume is already exported (one export per volume keeps LUN identity unambiguous). */
export class ExportExistsError extends BerthError {
  constructor(pool: string, volume: string, iqn: string, lun: number) {
    super('EXPORT_EXISTS', `volume '${pool}/${volume}' is already exported as ${iqn} LUN ${lun}`);
  }
}

export class ExportNotFoundError extends BerthError {
  constructor(pool: string, volume: string) { super('EXPORT_NOT_FOUND', `volume '${pool}/${volume}' is not exported`); }
}

/** The export's volume could not be opened (its LUN answers NOT READY). */
export class ExportFaultedError extends BerthError {
  constructor(pool: string, volume: string, why: string) { super('EXPORT_FAULTED', `the export of '${pool}/${volume}' is faulted: ${why}`); }
}

/** The requested LUN is taken on that target, or the target has no LUN left. */
export class LunInUseError extends BerthError {
  constructor(iqn: string, lun: number) { super('LUN_EXISTS', `LUN ${lun} of ${iqn} is already in use`); }
}

export class TargetFullError extends BerthError {
  constructor(iqn: string) { super('TARGET_FULL', `target ${iqn} has no free LUN`); }
}

/** The engine's own state file is unreadable: refusing to start beats forgetting exports. */
export class StateCorruptError extends BerthError {
  constructor(message: string, options?: { cause?: unknown }) { super('STATE_CORRUPT', message, options); }
}

/** The engine is shutting down and takes no new work. */
export class EngineClosedError extends BerthError {
  constructor() { super('ENGINE_CLOSED', 'the engine is shutting down'); }
}

/** `CODE: message` for a fault shown to operators (a faulted pool or LUN). */
export function describeFault(err: unknown): string {
  if (err instanceof BerthError) return `${err.code}: ${err.message}`;
  const e = err as { code?: unknown; message?: unknown };
  return typeof e?.code === 'string' ? `${e.code}: ${String(e.message)}` : String(e?.message ?? err);
}
