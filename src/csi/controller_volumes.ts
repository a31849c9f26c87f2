/**
 * CreateVolume, DeleteVolume, ControllerExpandVolume, ControllerGetVolume, ListVolumes,
 * GetCapacity and ValidateVolumeCapabilities. Each: validate → look up (by name for
 * create) → lock → act → respond.
 */
import type { Logger } from '../util/log.ts';
import { capabilityProblem, readCapabilities, readCapacityCapabilities, readCapability } from './capabilities.ts';
import { CapacityOutOfRangeError, InvalidArgumentError, NameConflictError, VolumeNotFoundError } from './csi_errors.ts';
import type { KeyedLocks } from './csi_locks.ts';
import type { ControlPlaneClient, Volume } from './backend.ts';
import type {
  ControllerExpandVolumeRequest,
  CreateVolumeRequest,
  GetCapacityRequest,
  ListRequest,
  ValidateVolumeCapabilitiesRequest,
} from './csi_types.ts';
import {
  readCapacityRange,
  readContentSource,
  readMaxEntries,
  readTopology,
  requireString,
  sameContentSource,
  volumeStatusToWire,
  volumeToWire,
  type ByteRange,
} from './csi_wire.ts';
import { parseVolumeParameters, volumeDefiningParameters, type VolumeParameters } from './parameters.ts';
import { sameCanonicalParameters } from './parameters_canonical.ts';
import { parseMutableParameters } from './mutable_parameters.ts';

export interface ControllerDeps {
  backend: ControlPlaneClient;
  locks: KeyedLocks;
  log: Logger;
}

/** Size given when the CO asks for none (required_bytes and limit_bytes both 0). */
export const DEFAULT_VOLUME_BYTES = 2 ** 30;
/** Volumes are whole MiB: the pool's extent granularity divides it. */
export const VOLUME_SIZE_ALIGNMENT = 2 ** 20;

/** The size Berth will create for a range, or CapacityOutOfRangeError when none fits. */
export function sizeForRange(range: ByteRange, p: VolumeParameters): number {
  let want = range.requiredBytes > 0 ? range.requiredBytes : Math.min(DEFAULT_VOLUME_BYTES, range.limitBytes || DEFAULT_VOLUME_BYTES);
  if (p.minVolumeSize !== undefined && want < p.minVolumeSize) want = p.minVolumeSize;
  const size = Math.ceil(want / VOLUME_SIZE_ALIGNMENT) * VOLUME_SIZE_ALIGNMENT;
  if (range.limitBytes !== 0 && size > range.limitBytes) {
    throw new CapacityOutOfRangeError(`no whole-MiB size of at least ${want} bytes fits limit_bytes ${range.limitBytes}`);
  }
  if (p.maxVolumeSize !== undefined && size > p.maxVolumeSize) {
    throw new CapacityOutOfRangeError(`${size} bytes is more than the StorageClass maxVolumeSize (${p.maxVolumeSize} bytes)`);
  }
  return size;
}

function fitsRange(bytes: number, range: ByteRange): boolean {
  return bytes >= range.requiredBytes && (range.limitBytes === 0 || bytes <= range.limitBytes);
}


export async function createVolume(d: ControllerDeps, req: CreateVolumeRequest): Promise<object> {
  const name = requireString(req.name, 'name');
  const caps = readCapabilities(req.volume_capabilities, 'volume_capabilities');
  // A VolumeAttributesClass's parameters set what they name, over the StorageClass's.
  parseMutableParameters(req.mutable_parameters);
  const raw = { ...req.parameters, ...req.mutable_parameters };
  const params = parseVolumeParameters(raw);
  const capFs = caps.find((c) => c.kind === 'mount' && c.fsType !== '')?.fsType;
  if (capFs && Object.hasOwn(raw, 'fsType') && capFs !== params.fsType) {
    throw new InvalidArgumentError(`volume_capabilities ask for ${capFs} but the StorageClass fsType is ${params.fsType}`);
  }
  if (capFs) params.fsType = capFs;
  const range = readCapacityRange(req.capacity_range, 'capacity_range');
  const contentSource = readContentSource(req.volume_content_source);
  const topology = readTopology(req.accessibility_requirements);
  const definingParameters = volumeDefiningParameters(raw);

  return d.locks.with([`name:${name}`], async () => {
    const existing = await d.backend.findVolumeByName(name);
    if (existing) {
      if (!fitsRange(existing.capacityBytes, range)) throw new NameConflictError('volume', name, `size ${existing.capacityBytes} bytes, outside the requested range`);
      // Compared as meant, not as written: "01" and "1" replicas, or fsType from the class or the capability, are the same.
      if (!sameCanonicalParameters(existing.parameters, params)) throw new NameConflictError('volume', name, 'other parameters');
      if (!sameContentSource(existing.contentSource, contentSource)) throw new NameConflictError('volume', name, 'another content source');
      return { volume: volumeToWire(existing) };
    }
    const capacityBytes = sizeForRange(range, params);
    const volume = await d.backend.createVolume({ name, capacityBytes, parameters: params, definingParameters, topology, contentSource });
    d.log.info({ volumeId: volume.id, name, capacityBytes, replicas: params.replicas }, 'volume created');
    return { volume: volumeToWire(volume) };
  });
}

export async function deleteVolume(d: ControllerDeps, req: { volume_id: string }): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  return d.locks.with([`volume:${volumeId}`], async () => {
    await d.backend.deleteVolume(volumeId);
    d.log.info({ volumeId }, 'volume deleted');
    return {};
  });
}

export async function getVolume(d: ControllerDeps, req: { volume_id: string }): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  const v = await mustGet(d, volumeId);
  return { volume: volumeToWire(v), status: volumeStatusToWire(v) };
}

export async function listVolumes(d: ControllerDeps, req: ListRequest): Promise<object> {
  const page = await d.backend.listVolumes({ maxEntries: readMaxEntries(req.max_entries), startingToken: req.starting_token ?? '' });
  return {
    entries: page.items.map((v) => ({ volume: volumeToWire(v), status: volumeStatusToWire(v) })),
    next_token: page.nextToken,
  };
}

export async function getCapacity(d: ControllerDeps, req: GetCapacityRequest): Promise<object> {
  readCapacityCapabilities(req.volume_capabilities, 'volume_capabilities');
  const params = parseVolumeParameters(req.parameters ?? {});
  const segment = req.accessible_topology ? { ...req.accessible_topology.segments } : undefined;
  const cap = await d.backend.getCapacity(params, segment && Object.keys(segment).length > 0 ? segment : undefined);
  return {
    available_capacity: cap.availableBytes,
    maximum_volume_size: cap.maximumVolumeSize === undefined ? null : { value: cap.maximumVolumeSize },
    minimum_volume_size: cap.minimumVolumeSize === undefined ? null : { value: cap.minimumVolumeSize },
  };
}

export async function expandVolume(d: ControllerDeps, req: ControllerExpandVolumeRequest): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  if (!req.capacity_range) throw new InvalidArgumentError('capacity_range is required');
  const range = readCapacityRange(req.capacity_range, 'capacity_range');
  const block = req.volume_capability ? readCapability(req.volume_capability, 'volume_capability').kind === 'block' : false;
  return d.locks.with([`volume:${volumeId}`], async () => {
    const v = await mustGet(d, volumeId);
    if (range.requiredBytes <= v.capacityBytes) {
      if (!fitsRange(v.capacityBytes, { requiredBytes: 0, limitBytes: range.limitBytes })) {
        throw new CapacityOutOfRangeError(`volume ${volumeId} is already ${v.capacityBytes} bytes, over limit_bytes; volumes do not shrink`);
      }
      return { capacity_bytes: v.capacityBytes, node_expansion_required: !block };
    }
    const target = sizeForRange({ requiredBytes: range.requiredBytes, limitBytes: range.limitBytes }, { ...v.parameters, minVolumeSize: undefined });
    const capacity = await d.backend.expandVolume(volumeId, target);
    d.log.info({ volumeId, capacity }, 'volume expanded');
    // A raw block consumer still needs the node to rescan the LUN, so node expansion is always asked for.
    return { capacity_bytes: capacity, node_expansion_required: true };
  });
}

export async function validateVolumeCapabilities(d: ControllerDeps, req: ValidateVolumeCapabilitiesRequest): Promise<object> {
  const volumeId = requireString(req.volume_id, 'volume_id');
  if (!req.volume_capabilities || req.volume_capabilities.length === 0) throw new InvalidArgumentError('volume_capabilities is required');
  const v = await mustGet(d, volumeId);
  for (const cap of req.volume_capabilities) {
    if (!cap.access_mode) throw new InvalidArgumentError('volume_capabilities: access_mode is required');
    const problem = capabilityProblem(cap);
    if (problem) return { confirmed: null, message: problem };
    if (cap.access_type === 'mount' && cap.mount?.fs_type && cap.mount.fs_type !== v.parameters.fsType) {
      return { confirmed: null, message: `volume ${volumeId} is formatted as ${v.parameters.fsType}, not ${cap.mount.fs_type}` };
    }
  }
  const params = req.parameters ?? {};
  if (Object.keys(params).length > 0) {
    let asked: VolumeParameters;
    try {
      asked = parseVolumeParameters(params);
    } catch (err) {
      if (err instanceof InvalidArgumentError) return { confirmed: null, message: err.message };
      throw err;
    }
    // A class without fsType leaves it to the capability, checked above.
    if (!Object.hasOwn(params, 'fsType')) asked.fsType = v.parameters.fsType;
    if (!sameCanonicalParameters(asked, v.parameters)) return { confirmed: null, message: `volume ${volumeId} was created with other parameters` };
  }
  return {
    confirmed: { volume_context: req.volume_context ?? {}, volume_capabilities: req.volume_capabilities, parameters: params },
    message: '',
  };
}

async function mustGet(d: ControllerDeps, volumeId: string): Promise<Volume> {
  const v = await d.backend.getVolume(volumeId);
  if (!v) throw new VolumeNotFoundError(volumeId);
  return v;
}
