/**
 * Answers "may this ServiceAccount do VERB on RESOURCE?" from the RBAC objects in a
 * render, the way the API server's authorizer does (no aggregation, no wildcards
 * beyond `*`).
 */
import { find, ofKind, type K8sObject } from './render_kit.ts';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
}

interface Binding {
  subjects?: { kind: string; name: string; namespace?: string }[];
  roleRef: { kind: string; name: string; apiGroup: string };
}

const matches = (list: string[] | undefined, value: string): boolean => list !== undefined && (list.includes('*') || list.includes(value));

/** `group` is '' for the core group; `namespace` is where the request is made (undefined: cluster-wide). */
export function can(objects: K8sObject[], sa: { namespace: string; name: string }, verb: string, group: string, resource: string, namespace?: string): boolean {
  const bound = (b: K8sObject, bindingNamespace: string | undefined): Rule[] => {
    const { subjects, roleRef } = b as unknown as Binding;
    const isSubject = (subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === sa.name && (s.namespace ?? bindingNamespace) === sa.namespace);
    if (!isSubject) return [];
    const role = find(objects, roleRef.kind, roleRef.name, bindingNamespace);
    return role === undefined ? [] : ((role.rules ?? []) as Rule[]);
  };
  const rules = [
    ...ofKind(objects, 'ClusterRoleBinding').flatMap((b) => bound(b, undefined)),
    ...(namespace === undefined ? [] : ofKind(objects, 'RoleBinding')
      .filter((b) => b.metadata.namespace === namespace)
      .flatMap((b) => bound(b, namespace))),
  ];
  return rules.some((r) => matches(r.apiGroups, group) && matches(r.resources, resource) && matches(r.verbs, verb));
}

/** What each kubernetes-csi sidecar calls, from their RBAC documentation: [verb, group, resource, namespaced]. */
export const SIDECAR_NEEDS: Record<string, [string, string, string, boolean][]> = {
  'csi-provisioner': [
    ...['get', 'list', 'watch', 'create', 'delete'].map((v): [string, string, string, boolean] => [v, '', 'persistentvolumes', false]),
    ...['get', 'list', 'watch', 'update'].map((v): [string, string, string, boolean] => [v, '', 'persistentvolumeclaims', false]),
    ...['get', 'list', 'watch'].map((v): [string, string, string, boolean] => [v, 'storage.k8s.io', 'storageclasses', false]),
    ['create', '', 'events', false], ['patch', '', 'events', false],
    ['get', 'storage.k8s.io', 'csinodes', false], ['watch', 'storage.k8s.io', 'csinodes', false],
    ['get', '', 'nodes', false], ['list', '', 'nodes', false],
    ['list', 'storage.k8s.io', 'volumeattachments', false],
    ...['get', 'list', 'watch', 'create', 'update', 'delete'].map((v): [string, string, string, boolean] => [v, 'storage.k8s.io', 'csistoragecapacities', true]),
    ['get', 'snapshot.storage.k8s.io', 'volumesnapshots', false], ['get', 'snapshot.storage.k8s.io', 'volumesnapshotcontents', false],
    ['get', '', 'pods', true], ['get', 'apps', 'replicasets', true], ['get', 'apps', 'deployments', true],
  ],
  'csi-attacher': [
    ['get', '', 'persistentvolumes', false], ['patch', '', 'persistentvolumes', false],
    ['watch', 'storage.k8s.io', 'csinodes', false],
    ['list', 'storage.k8s.io', 'volumeattachments', false], ['patch', 'storage.k8s.io', 'volumeattachments', false],
    ['patch', 'storage.k8s.io', 'volumeattachments/status', false],
  ],
  'csi-resizer': [
    ['patch', '', 'persistentvolumes', false], ['watch', '', 'persistentvolumeclaims', false],
    ['patch', '', 'persistentvolumeclaims/status', false], ['list', '', 'pods', false], ['create', '', 'events', false],
  ],
  'csi-snapshotter': [
    ['watch', 'snapshot.storage.k8s.io', 'volumesnapshotclasses', false],
    ['update', 'snapshot.storage.k8s.io', 'volumesnapshotcontents', false],
    ['patch', 'snapshot.storage.k8s.io', 'volumesnapshotcontents/status', false],
    ['create', '', 'events', false],
  ],
};

/** Every sidecar run with --leader-election needs its Lease in the pod's namespace. */
export const LEADER_ELECTION_NEEDS: [string, string, string][] = [
  ['get', 'coordination.k8s.io', 'leases'], ['create', 'coordination.k8s.io', 'leases'], ['update', 'coordination.k8s.io', 'leases'],
];
