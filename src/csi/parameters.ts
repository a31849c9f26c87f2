/**
 * StorageClass parameters: pure validation into a typed record. Every problem is
 * reported at once, in one INVALID_ARGUMENT message, so an operator fixes the class in
 * one round. Keys under `csi.storage.k8s.io/` belong to the sidecars and pass through.
 */
import { InvalidArgumentError } from './csi_errors.ts';

export const MEDIA_TYPES = ['hdd', 'ssd', 'slice'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];
export const FS_TYPES = ['ext4', 'xfs'] as const;
export type FsType = (typeof FS_TYPES)[number];
export const MIN_REPLICAS = 1;
export const MAX_REPLICAS = 5;
/** Prefix of the keys external-provisioner adds or reads itself (secrets, fstype, PVC metadata). */
export const SIDECAR_PARAMETER_PREFIX = 'csi.storage.k8s.io/';

export interface VolumeParameters {
  replicas: number;
  media?: MediaType;
  fsType: FsType;
  thin: boolean;
  striping: boolean;
  encrypt: boolean;
  minVolumeSize?: number;
  maxVolumeSize?: number;
  requiredTags: string[];
  excludedTags: string[];
  storageGroup?: string;
  spreadStrict: boolean;
  transport: 'iscsi';
  /**
   * `locality: zone` confines the volume to the pod's zone: its replicas are placed
   * there and it is attachable there only. Absent: attachable from every node (iSCSI
   * reaches anywhere), replicas placed near the pod when possible.
   */
  locality?: Locality;
  /**
   * Which PVC and PV the volume is for, as external-provisioner's `--extra-create-metadata`
   * passes them; kept with the volume so operators' tools show them without asking
   * Kubernetes. Not part of what the volume is: two requests differing only here match.
   */
  kubernetes?: KubernetesNames;
}

/** The PVC/PV names external-provisioner passes with `--extra-create-metadata`. */
export interface KubernetesNames {
  pvcName?: string;
  pvcNamespace?: string;
  pvName?: string;
}

/** The keys external-provisioner uses for them, also the keys they are kept under. */
export const KUBERNETES_NAME_KEYS = {
  pvcName: 'csi.storage.k8s.io/pvc/name',
  pvcNamespace: 'csi.storage.k8s.io/pvc/namespace',
  pvName: 'csi.storage.k8s.io/pv/name',
} as const satisfies Record<keyof KubernetesNames, string>;

export const LOCALITIES = ['none', 'zone'] as const;
export type Locality = 'zone';

export const DEFAULT_PARAMETERS: Readonly<VolumeParameters> = {
  replicas: 1,
  fsType: 'ext4',
  thin: false,
  striping: false,
  encrypt: false,
  requiredTags: [],
  excludedTags: [],
  spreadStrict: false,
  transport: 'iscsi',
};

type Setter = (value: string, out: VolumeParameters) => string | undefined;

const KNOWN: Record<string, Setter> = {
  replicas: (v, out) => {
    const n = wholeNumber(v);
    if (n === undefined || n < MIN_REPLICAS || n > MAX_REPLICAS) return `must be a whole number from ${MIN_REPLICAS} to ${MAX_REPLICAS}`;
    out.replicas = n;
  },
  type: (v, out) => {
    if (!(MEDIA_TYPES as readonly string[]).includes(v)) return `must be one of ${MEDIA_TYPES.join(', ')}`;
    out.media = v as MediaType;
  },
  fsType: (v, out) => {
    if (!(FS_TYPES as readonly string[]).includes(v)) return `must be one of ${FS_TYPES.join(', ')}`;
    out.fsType = v as FsType;
  },
  thin: boolSetter('thin'),
  striping: boolSetter('striping'),
  encrypt: boolSetter('encrypt'),
  spreadStrict: boolSetter('spreadStrict'),
  minVolumeSize: (v, out) => {
    const n = parseQuantity(v);
    if (n === undefined) return 'must be a size such as 1Gi, 500M or 1073741824';
    out.minVolumeSize = n;
  },
  maxVolumeSize: (v, out) => {
    const n = parseQuantity(v);
    if (n === undefined) return 'must be a size such as 1Ti, 500G or 1073741824';
    out.maxVolumeSize = n;
  },
  requiredTags: (v, out) => tagList(v, (tags) => (out.requiredTags = tags)),
  excludedTags: (v, out) => tagList(v, (tags) => (out.excludedTags = tags)),
  storageGroup: (v, out) => {
    if (!NAME_PATTERN.test(v)) return 'must be a name of letters, digits, ".", "_" or "-" (at most 63)';
    out.storageGroup = v;
  },
  locality: (v, out) => {
    if (!(LOCALITIES as readonly string[]).includes(v)) return `must be one of ${LOCALITIES.join(', ')}`;
    if (v === 'zone') out.locality = 'zone';
  },
  transport: (v, out) => {
    if (v === 'iscsi') {
      out.transport = 'iscsi';
      return undefined;
    }
    if (v === 'nvmf') return 'nvmf is not supported yet; use iscsi';
    return 'must be iscsi';
  },
};

/**
 * Keys (or values) the design names but nothing enforces yet. They are refused, never
 * stored: a class that asks for a limit or a protection must not get a volume without it.
 */
const NOT_ENFORCED: Record<string, (value: string) => string | undefined> = {
  maxIops: () => 'QoS limits are not enforced by the Berth target yet; remove the key (a later release brings QoS)',
  maxBandwidth: () => 'QoS limits are not enforced by the Berth target yet; remove the key (a later release brings QoS)',
  encrypt: (v) => (v.toLowerCase() === 'true' ? 'encryption at rest is not implemented yet; remove the key or set it to false' : undefined),
  striping: (v) => (v.toLowerCase() === 'true' ? 'striping is not implemented yet; remove the key or set it to false' : undefined),
  type: (v) => (v === 'slice' ? 'no pool serves slice media yet; use hdd or ssd' : undefined),
};

const NAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const TAG_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._\-=/]{0,126}[A-Za-z0-9])?$/;

/** Validates a StorageClass parameter map; throws InvalidArgumentError naming every bad key. */
export function parseVolumeParameters(raw: Readonly<Record<string, string>>): VolumeParameters {
  const out: VolumeParameters = { ...DEFAULT_PARAMETERS, requiredTags: [], excludedTags: [] };
  const problems: string[] = [];
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith(SIDECAR_PARAMETER_PREFIX)) {
      keepKubernetesName(key, value, out);
      continue;
    }
    const setter = Object.hasOwn(KNOWN, key) ? KNOWN[key] : Object.hasOwn(NOT_ENFORCED, key) ? () => undefined : undefined;
    if (!setter) {
      unknown.push(key);
      continue;
    }
    const refused = Object.hasOwn(NOT_ENFORCED, key) ? NOT_ENFORCED[key](value.trim()) : undefined;
    const problem = refused ?? setter(value.trim(), out);
    if (problem) problems.push(`${key}: ${problem} (got ${JSON.stringify(value.slice(0, 64))})`);
  }
  if (unknown.length > 0) {
    problems.push(`unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}; known: ${Object.keys(KNOWN).join(', ')}`);
  }
  if (out.minVolumeSize !== undefined && out.maxVolumeSize !== undefined && out.minVolumeSize > out.maxVolumeSize) {
    problems.push('minVolumeSize is larger than maxVolumeSize');
  }
  const both = out.requiredTags.filter((t) => out.excludedTags.includes(t));
  if (both.length > 0) problems.push(`tags both required and excluded: ${both.join(', ')}`);
  if (problems.length > 0) throw new InvalidArgumentError(`invalid StorageClass parameters: ${problems.join('; ')}`);
  return out;
}

/** Parameters without the sidecars' keys: what decides whether two CreateVolume calls match. */
export function volumeDefiningParameters(raw: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(raw).sort()) {
    if (!key.startsWith(SIDECAR_PARAMETER_PREFIX)) out[key] = raw[key];
  }
  return out;
}

/** A Kubernetes object name (at most 253 characters, DNS subdomain); anything else is not kept. */
const K8S_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

function keepKubernetesName(key: string, value: string, out: VolumeParameters): void {
  for (const [field, k] of Object.entries(KUBERNETES_NAME_KEYS) as [keyof KubernetesNames, string][]) {
    if (k === key && typeof value === 'string' && K8S_NAME.test(value)) out.kubernetes = { ...out.kubernetes, [field]: value };
  }
}

function boolSetter(key: 'thin' | 'striping' | 'encrypt' | 'spreadStrict'): Setter {
  return (v, out) => {
    const lower = v.toLowerCase();
    if (lower !== 'true' && lower !== 'false') return 'must be true or false';
    out[key] = lower === 'true';
  };
}

function tagList(v: string, set: (tags: string[]) => void): string | undefined {
  const tags = v.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  const bad = tags.filter((t) => !TAG_PATTERN.test(t));
  if (bad.length > 0) return `tags must be letters, digits and . _ - = / (bad: ${bad.map((t) => JSON.stringify(t.slice(0, 32))).join(', ')})`;
  set([...new Set(tags)]);
  return undefined;
}

function wholeNumber(v: string): number | undefined {
  if (!/^\d{1,15}$/.test(v)) return undefined;
  return Number(v);
}

const QUANTITY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};

/**
 * Reads a Kubernetes-style quantity (`10Gi`, `500M`, `1073741824`) as bytes, as a PVC's
 * storage request is read: binary suffixes end in `i`, bare ones are decimal.
 */
export function parseQuantity(v: string): number | undefined {
  const m = /^(\d{1,15}(?:\.\d{1,6})?)(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?$/.exec(v.trim());
  if (!m) return undefined;
  const bytes = Math.ceil(Number(m[1]) * QUANTITY_UNITS[m[2] ?? '']);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) return undefined;
  return bytes;
}
