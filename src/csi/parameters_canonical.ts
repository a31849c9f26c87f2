/**
 * StorageClass parameters in one canonical spelling: every setting that changes the
 * volume, each key written one way (booleans `true`/`false`, sizes in bytes, tags
 * joined by commas), sorted by key. Two requests whose canonical forms are equal ask
 * for the same volume, whatever their text (`replicas: "01"` vs `"1"`, a default left
 * out or spelled out, fsType from the capability or the class). The form parses back
 * with parseVolumeParameters to the same parameters, so a store can keep it as text.
 * Pure.
 */
import { KUBERNETES_NAME_KEYS, type KubernetesNames, type VolumeParameters } from './parameters.ts';

export function canonicalParameters(p: VolumeParameters): Record<string, string> {
  const out: Record<string, string> = {
    encrypt: String(p.encrypt),
    fsType: p.fsType,
    replicas: String(p.replicas),
    spreadStrict: String(p.spreadStrict),
    thin: String(p.thin),
  };
  if (p.media !== undefined) out.type = p.media;
  if (p.striping) out.striping = 'true';
  if (p.requiredTags.length > 0) out.requiredTags = [...p.requiredTags].sort().join(',');
  if (p.excludedTags.length > 0) out.excludedTags = [...p.excludedTags].sort().join(',');
  if (p.storageGroup !== undefined) out.storageGroup = p.storageGroup;
  if (p.minVolumeSize !== undefined) out.minVolumeSize = String(p.minVolumeSize);
  if (p.maxVolumeSize !== undefined) out.maxVolumeSize = String(p.maxVolumeSize);
  if (p.locality !== undefined) out.locality = p.locality;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Do the two sets of parameters ask for the same volume? */
export function sameCanonicalParameters(a: VolumeParameters, b: VolumeParameters): boolean {
  const ca = canonicalParameters(a);
  const cb = canonicalParameters(b);
  const keys = Object.keys(ca);
  return keys.length === Object.keys(cb).length && keys.every((k) => ca[k] === cb[k]);
}

/**
 * What the driver keeps in the volume's attributes: the canonical parameters plus the
 * PVC/PV names under external-provisioner's own keys (parseVolumeParameters reads both
 * back). The names do not take part in comparing two requests.
 */
export function storedAttributes(p: VolumeParameters): Record<string, string> {
  const out = canonicalParameters(p);
  for (const [field, key] of Object.entries(KUBERNETES_NAME_KEYS) as [keyof KubernetesNames, string][]) {
    const v = p.kubernetes?.[field];
    if (v !== undefined) out[key] = v;
  }
  return out;
}
