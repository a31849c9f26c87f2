/**
 * What every resource spec shares. A spec is desired state, written by the control
 * plane; the matching *State type is what the engines last reported. Specs are plain
 * JSON so they go into the store unchanged.
 */

/** The spec's own life, independent of what the data plane reports. */
export const SpecLifecycle = {
  /** Saved, and the data plane has not confirmed the resource yet. */
  Creating: 'creating',
  /** The data plane confirmed it; reconcilers keep it that way. */
  Created: 'created',
  /** Deletion was asked for; reconcilers remove it from the data plane, then the spec. */
  Deleting: 'deleting',
} as const;
export type SpecLifecycle = (typeof SpecLifecycle)[keyof typeof SpecLifecycle];

/** Resource kinds, also the second segment of their store keys. */
export const ResourceKind = {
  Node: 'nodes',
  Pool: 'pools',
  Volume: 'volumes',
  Replica: 'replicas',
  Nexus: 'nexuses',
  Snapshot: 'snapshots',
  GroupSnapshot: 'snapshot-groups',
} as const;
export type ResourceKind = (typeof ResourceKind)[keyof typeof ResourceKind];

/** Root of every Berth key; the version segment lets a future layout live beside it. */
export const KEY_ROOT = 'berth/v1/';

export function specKey(kind: ResourceKind, id: string): string {
  return `${KEY_ROOT}${kind}/${id}`;
}

export function kindPrefix(kind: ResourceKind): string {
  return `${KEY_ROOT}${kind}/`;
}

/** Where the current control-plane leader is recorded (the election key). */
export const LEADER_KEY = `${KEY_ROOT}leader`;
