/**
 * What topology means for Berth (docs/csi.md, "Topology"). Pure.
 *
 * A volume is an iSCSI target, reachable from every node that runs the node plugin, so
 * its accessible topology is "everywhere" (empty) unless its class asks for locality
 * (`locality: zone`: that zone only). The CO's accessibility requirements say where the
 * pod will run (external-provisioner puts the selected node's segment first in
 * `preferred`); they steer placement — a replica on the pod's node when it has storage,
 * else in its zone — and, for a zone-local class, pick the zone.
 */
import { InvalidArgumentError } from './csi_errors.ts';
import type { TopologyNeed, TopologySegment } from './backend.ts';
import type { VolumeParameters } from './parameters.ts';

export const TOPOLOGY_ZONE_KEY = 'topology.berth.io/zone';
export const TOPOLOGY_NODE_KEY = 'topology.berth.io/node';

/** Where the control plane should put the replicas (POST /v1/volumes `placement`). */
export interface PlacementHints {
  /** Nodes to hold the first replica, best first (the pod's node first). */
  preferredNodes: string[];
  /** Zones to hold the first replica when no preferred node can. */
  preferredZones: string[];
  /** Every replica in this zone (a zone-local class). */
  zone?: string;
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))];
}

/** Preferred segments first (in the CO's order), then the requisite ones. */
function segmentsInOrder(need: TopologyNeed | undefined): TopologySegment[] {
  return need === undefined ? [] : [...need.preferred, ...need.requisite];
}

/** The placement a CreateVolume's accessibility requirements ask for. */
export function placementHints(need: TopologyNeed | undefined, p: VolumeParameters): PlacementHints {
  const segments = segmentsInOrder(need);
  const hints: PlacementHints = {
    preferredNodes: unique(segments.map((s) => s[TOPOLOGY_NODE_KEY])),
    preferredZones: unique(segments.map((s) => s[TOPOLOGY_ZONE_KEY])),
  };
  if (p.locality === 'zone') {
    const zone = hints.preferredZones[0];
    if (zone === undefined) {
      throw new InvalidArgumentError(`locality=zone needs accessibility_requirements naming a ${TOPOLOGY_ZONE_KEY} (run the node plugins with --zone)`);
    }
    hints.zone = zone;
  }
  return hints;
}

/** Where a volume can be attached: everywhere (empty), or its zone for a zone-local class. */
export function accessibleTopology(p: VolumeParameters, zoneOfReplicas: readonly string[]): TopologySegment[] {
  if (p.locality !== 'zone') return [];
  return [...new Set(zoneOfReplicas)].sort().map((z) => ({ [TOPOLOGY_ZONE_KEY]: z }));
}

/**
 * The zone a GetCapacity segment confines a volume of this class to: only a zone-local
 * class is confined; its zone is the segment's, or that of the segment's node.
 * `undefined`: the whole fleet can serve a pod in this segment.
 */
export function capacityZone(p: VolumeParameters, segment: TopologySegment | undefined, zoneOfNode: (nodeId: string) => string | undefined): string | undefined {
  if (p.locality !== 'zone' || segment === undefined) return undefined;
  const zone = segment[TOPOLOGY_ZONE_KEY];
  if (zone !== undefined) return zone;
  const node = segment[TOPOLOGY_NODE_KEY];
  // A zone-local class on a node whose zone nobody knows: no zone can be chosen for it.
  return node === undefined ? undefined : (zoneOfNode(node) ?? '');
}
