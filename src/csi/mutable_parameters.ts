/**
 * VolumeAttributesClass parameters (CSI `mutable_parameters`, MODIFY_VOLUME): the
 * StorageClass keys a volume may change after it is made. Only `replicas` — raised any
 * time, lowered while the volume is unpublished (docs/csi.md). Pure.
 */
import { InvalidArgumentError } from './csi_errors.ts';
import { parseVolumeParameters } from './parameters.ts';

export const MUTABLE_PARAMETER_KEYS = ['replicas'] as const;

export interface MutableParameters {
  replicas?: number;
}

/** Validates mutable parameters; any other key is INVALID_ARGUMENT, as the spec asks. */
export function parseMutableParameters(raw: Readonly<Record<string, string>> | undefined): MutableParameters {
  const given = raw ?? {};
  const other = Object.keys(given).filter((k) => !(MUTABLE_PARAMETER_KEYS as readonly string[]).includes(k));
  if (other.length > 0) {
    throw new InvalidArgumentError(`mutable parameter${other.length > 1 ? 's' : ''} ${other.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')} cannot be changed; mutable: ${MUTABLE_PARAMETER_KEYS.join(', ')}`);
  }
  const parsed = parseVolumeParameters(given);
  return Object.hasOwn(given, 'replicas') ? { replicas: parsed.replicas } : {};
}
