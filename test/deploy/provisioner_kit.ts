/**
 * What external-provisioner does with a StorageClass's parameters before CreateVolume
 * (v3.4 through v5, the same rules): keys under csi.storage.k8s.io/ are its own and are
 * taken out (an unknown one is an error), the filesystem comes from
 * csi.storage.k8s.io/fstype or the legacy fstype key — never both, compared
 * case-insensitively — or --default-fstype, and reaches the driver as the mount
 * capability's fs_type. The rest is passed through as parameters.
 */
const PREFIX = 'csi.storage.k8s.io/';
const SECRET_KINDS = ['provisioner', 'controller-publish', 'node-stage', 'node-publish', 'controller-expand', 'node-expand'];
const KNOWN_PREFIXED = new Set([
  'fstype',
  ...SECRET_KINDS.flatMap((k) => [`${k}-secret-name`, `${k}-secret-namespace`]),
]);

export interface DriverRequest {
  parameters: Record<string, string>;
  fsType: string;
}

/** Throws with the provisioner's complaint when it would refuse the class. */
export function provisionerView(classParameters: Record<string, string>, defaultFsType: string): DriverRequest {
  const parameters: Record<string, string> = {};
  let prefixedFs: string | undefined;
  let legacyFs: string | undefined;
  for (const [key, value] of Object.entries(classParameters)) {
    const lower = key.toLowerCase();
    if (lower.startsWith(PREFIX)) {
      const rest = lower.slice(PREFIX.length);
      if (!KNOWN_PREFIXED.has(rest)) throw new Error(`found unknown parameter key "${key}" with reserved namespace ${PREFIX}`);
      if (rest === 'fstype') prefixedFs = value;
      continue;
    }
    if (lower === 'fstype') legacyFs = value;
    parameters[key] = value;
  }
  if (prefixedFs !== undefined && legacyFs !== undefined) {
    throw new Error('fstype specified in parameters with both "fstype" and "csi.storage.k8s.io/fstype" keys');
  }
  return { parameters, fsType: prefixedFs ?? legacyFs ?? defaultFsType };
}
