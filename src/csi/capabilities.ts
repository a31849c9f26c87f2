/**
 * Volume capabilities and access modes, as pure functions. An iSCSI LUN carrying ext4
 * or xfs can be written by one node only; several nodes may only share it read-only,
 * or raw (block) when the application coordinates, as a clustered database does.
 */
import { InvalidArgumentError, MissingFieldError } from './csi_errors.ts';
import { FS_TYPES, type FsType } from './parameters.ts';
import type { VolumeCapability } from './csi_types.ts';

export const AccessMode = {
  SINGLE_NODE_WRITER: 'SINGLE_NODE_WRITER',
  SINGLE_NODE_READER_ONLY: 'SINGLE_NODE_READER_ONLY',
  MULTI_NODE_READER_ONLY: 'MULTI_NODE_READER_ONLY',
  MULTI_NODE_SINGLE_WRITER: 'MULTI_NODE_SINGLE_WRITER',
  MULTI_NODE_MULTI_WRITER: 'MULTI_NODE_MULTI_WRITER',
  SINGLE_NODE_SINGLE_WRITER: 'SINGLE_NODE_SINGLE_WRITER',
  SINGLE_NODE_MULTI_WRITER: 'SINGLE_NODE_MULTI_WRITER',
} as const;
export type AccessMode = (typeof AccessMode)[keyof typeof AccessMode];

/** A capability reduced to what Berth acts on. */
export interface CapabilityInfo {
  kind: 'block' | 'mount';
  mode: AccessMode;
  /** Empty when the CO left it to the driver. */
  fsType: FsType | '';
  mountFlags: string[];
}

const SINGLE_NODE_MODES: readonly string[] = [
  AccessMode.SINGLE_NODE_WRITER,
  AccessMode.SINGLE_NODE_READER_ONLY,
  AccessMode.SINGLE_NODE_SINGLE_WRITER,
  AccessMode.SINGLE_NODE_MULTI_WRITER,
];
const READ_ONLY_MODES: readonly string[] = [AccessMode.SINGLE_NODE_READER_ONLY, AccessMode.MULTI_NODE_READER_ONLY];
/** Mount flags a pod may not pass: they would let it reach beyond its volume. */
const FORBIDDEN_MOUNT_FLAGS = /^(bind|rbind|remount|move|make-|x-mount\.)/;

export function isSingleNode(mode: AccessMode): boolean {
  return SINGLE_NODE_MODES.includes(mode);
}

export function isReadOnlyMode(mode: AccessMode): boolean {
  return READ_ONLY_MODES.includes(mode);
}

/** Why Berth cannot serve this capability, or undefined when it can. */
export function capabilityProblem(cap: VolumeCapability): string | undefined {
  const mode = cap.access_mode?.mode ?? 'UNKNOWN';
  if (!Object.hasOwn(AccessMode, mode)) return `access mode ${mode} is not a known mode`;
  if (cap.access_type !== 'block' && cap.access_type !== 'mount') return 'access type must be block or mount';
  if (cap.access_type === 'mount') {
    const fs = cap.mount?.fs_type ?? '';
    if (fs !== '' && !(FS_TYPES as readonly string[]).includes(fs)) return `fs_type ${fs} is not supported (use ${FS_TYPES.join(' or ')})`;
    const bad = (cap.mount?.mount_flags ?? []).find((f) => FORBIDDEN_MOUNT_FLAGS.test(f));
    if (bad !== undefined) return `mount flag ${bad} is not allowed`;
    if (mode === AccessMode.MULTI_NODE_MULTI_WRITER || mode === AccessMode.MULTI_NODE_SINGLE_WRITER) {
      return `${mode} needs a cluster filesystem; a mounted ext4/xfs volume can be written by one node only (use block access)`;
    }
  }
  if (cap.access_type === 'block' && mode === AccessMode.MULTI_NODE_SINGLE_WRITER) {
    return 'MULTI_NODE_SINGLE_WRITER is not supported; use MULTI_NODE_MULTI_WRITER with block access';
  }
  return undefined;
}

/** Validates one required capability and reduces it; INVALID_ARGUMENT when Berth cannot serve it. */
export function readCapability(cap: VolumeCapability | null | undefined, field: string): CapabilityInfo {
  if (!cap) throw new MissingFieldError(field);
  if (!cap.access_mode) throw new MissingFieldError(`${field}.access_mode`);
  const problem = capabilityProblem(cap);
  if (problem) throw new InvalidArgumentError(`${field}: ${problem}`);
  return {
    kind: cap.access_type as 'block' | 'mount',
    mode: cap.access_mode.mode as AccessMode,
    fsType: (cap.mount?.fs_type ?? '') as FsType | '',
    mountFlags: [...(cap.mount?.mount_flags ?? [])],
  };
}

/** Validates a non-empty capability list (CreateVolume, GetCapacity when given). */
export function readCapabilities(caps: readonly VolumeCapability[] | undefined, field: string): CapabilityInfo[] {
  if (!caps || caps.length === 0) throw new MissingFieldError(field);
  return caps.map((c, i) => readCapability(c, `${field}[${i}]`));
}

/**
 * GetCapacity's capabilities: the access mode may be UNKNOWN or absent, since
 * external-provisioner before v5 asks for capacity without one (and the access type may
 * be left out); what is given (mode, fs type, flags) is still checked.
 */
export function readCapacityCapabilities(caps: readonly VolumeCapability[] | undefined, field: string): void {
  (caps ?? []).forEach((c, i) => {
    const mode = c.access_mode?.mode ?? 'UNKNOWN';
    const asked: VolumeCapability = {
      ...c,
      access_mode: { mode: mode === 'UNKNOWN' ? AccessMode.SINGLE_NODE_WRITER : mode },
      access_type: c.access_type ?? 'mount',
    };
    const problem = capabilityProblem(asked);
    if (problem) throw new InvalidArgumentError(`${field}[${i}]: ${problem}`);
  });
}

/** True when two capabilities would be served the same way on a node. */
export function sameCapability(a: CapabilityInfo, b: CapabilityInfo): boolean {
  return (
    a.kind === b.kind &&
    a.mode === b.mode &&
    a.fsType === b.fsType &&
    a.mountFlags.length === b.mountFlags.length &&
    a.mountFlags.every((f, i) => f === b.mountFlags[i])
  );
}

/** One node's ControllerPublish of a volume. */
export interface Publication {
  nodeId: string;
  readonly: boolean;
  mode: AccessMode;
}

export type PublishDecision =
  | { kind: 'already' }
  | { kind: 'publish' }
  | { kind: 'incompatible'; why: string }
  | { kind: 'elsewhere'; nodeIds: string[] };

/**
 * The spec's publish table: the same node with the same arguments is idempotent, the same
 * node with other arguments is ALREADY_EXISTS, another node is allowed only for
 * multi-node modes (SINGLE_NODE_MULTI_WRITER means several pods on one node).
 */
export function decidePublish(existing: readonly Publication[], want: Publication): PublishDecision {
  const same = existing.find((p) => p.nodeId === want.nodeId);
  if (same) {
    if (same.readonly === want.readonly && same.mode === want.mode) return { kind: 'already' };
    return { kind: 'incompatible', why: `it is published to ${want.nodeId} with readonly=${same.readonly}, mode ${same.mode}` };
  }
  const others = existing.filter((p) => p.nodeId !== want.nodeId);
  if (others.length > 0 && (isSingleNode(want.mode) || others.some((p) => isSingleNode(p.mode)))) {
    return { kind: 'elsewhere', nodeIds: others.map((p) => p.nodeId) };
  }
  return { kind: 'publish' };
}
