import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVolumeParameters } from './parameters.ts';
import { capacityFor } from './rest_capacity.ts';
import { createVolumeBody, volumeFromRest, type RestNode, type RestPool, type RestVolume } from './rest_views.ts';
import { accessibleTopology, placementHints, TOPOLOGY_NODE_KEY as NODE, TOPOLOGY_ZONE_KEY as ZONE } from './topology.ts';

const GiB = 2 ** 30;
const seg = (zone: string, node: string) => ({ [ZONE]: zone, [NODE]: node });
const node = (id: string, zone: string): RestNode => ({ id, zone, storageGroup: 'r', state: { status: 'online' } });
const pool = (nodeId: string, freeGiB: number): RestPool => ({
  id: `${nodeId}:p`, nodeId, media: 'ssd', status: 'online', capacityBytes: 10 * GiB, usedBytes: 0, committedBytes: (10 - freeGiB) * GiB, overcommitRatio: 1,
});
/** Three storage nodes in two zones, and (in node plugins' segments) a compute-only node c1 in z1. */
const fleet = { nodes: [node('s1', 'z1'), node('s2', 'z1'), node('s3', 'z2')], pools: [pool('s1', 4), pool('s2', 3), pool('s3', 6)], attachZones: new Map([['c1', 'z1']]) };

describe('topology: where a volume can be attached, and capacity per segment', () => {
  it('a 2-replica class has room in every node\'s segment, compute-only nodes included', () => {
    const two = parseVolumeParameters({ replicas: '2' });
    for (const s of [seg('z1', 's1'), seg('z2', 's3'), seg('z1', 'c1'), { [NODE]: 'c1' }]) {
      const cap = capacityFor(fleet, two, s);
      assert.equal(cap.maximumVolumeSize, 4 * GiB, JSON.stringify(s));
      assert.equal(cap.availableBytes, 13 * GiB);
    }
    assert.equal(capacityFor(fleet, parseVolumeParameters({ replicas: '4' }), seg('z1', 's1')).maximumVolumeSize, 0);
    // Strict spread over zones: one replica per zone, so the smaller zone bounds it.
    assert.equal(capacityFor(fleet, parseVolumeParameters({ replicas: '2', spreadStrict: 'true' }), seg('z1', 's1')).maximumVolumeSize, 4 * GiB);
    assert.equal(capacityFor(fleet, parseVolumeParameters({ replicas: '3', spreadStrict: 'true' }), seg('z1', 's1')).maximumVolumeSize, 0);
  });

  it('a zone-local class counts only the segment\'s zone (a node-only segment by the node\'s zone)', () => {
    const local = parseVolumeParameters({ replicas: '2', locality: 'zone' });
    assert.equal(capacityFor(fleet, local, seg('z1', 's2')).maximumVolumeSize, 3 * GiB);
    assert.equal(capacityFor(fleet, local, { [NODE]: 'c1' }).maximumVolumeSize, 3 * GiB);
    assert.equal(capacityFor(fleet, local, seg('z2', 's3')).maximumVolumeSize, 0);
    assert.equal(capacityFor(fleet, parseVolumeParameters({ locality: 'zone' }), seg('z2', 's3')).maximumVolumeSize, 6 * GiB);
    assert.equal(capacityFor(fleet, local, { [NODE]: 'unknown' }).maximumVolumeSize, 0);
  });

  it('CreateVolume: the pod\'s node and zone steer placement; a zone-local class takes the pod\'s zone', () => {
    const need = { preferred: [seg('z2', 'c7'), seg('z1', 's1')], requisite: [seg('z1', 's1'), seg('z2', 'c7'), seg('z1', 's2')] };
    const two = parseVolumeParameters({ replicas: '2' });
    assert.deepEqual(placementHints(need, two), { preferredNodes: ['c7', 's1', 's2'], preferredZones: ['z2', 'z1'] });
    assert.deepEqual(placementHints(need, parseVolumeParameters({ locality: 'zone' })).zone, 'z2');
    assert.throws(() => placementHints(undefined, parseVolumeParameters({ locality: 'zone' })), /locality=zone needs/);
    const body = createVolumeBody({ name: 'v', capacityBytes: GiB, parameters: parseVolumeParameters({ replicas: '2', locality: 'zone' }), definingParameters: {}, topology: need });
    assert.deepEqual(body.placement, { preferredNodes: ['c7', 's1', 's2'], preferredZones: ['z2', 'z1'], zone: 'z2' });
    assert.deepEqual(body.spread, { domain: 'node', strict: false });
    assert.equal(createVolumeBody({ name: 'v', capacityBytes: GiB, parameters: two, definingParameters: {} }).placement, undefined);
  });

  it('a volume is attachable everywhere, not only in its replicas\' zones, unless zone-local', () => {
    const rest = (attributes: Record<string, string>): RestVolume => ({
      id: 'v', name: 'v', sizeBytes: GiB, replicas: 2, thin: false, attributes, lifecycle: 'created', status: 'online', pending: null,
      replicaStates: [{ id: 'r1', nodeId: 's1', poolId: 's1:p', status: 'online' }, { id: 'r2', nodeId: 's3', poolId: 's3:p', status: 'online' }],
    });
    const zones = new Map([['s1', 'z1'], ['s3', 'z3']]);
    assert.deepEqual(volumeFromRest(rest({ replicas: '2', fsType: 'ext4' }), zones).accessibleTopology, []);
    const local = volumeFromRest(rest({ replicas: '2', fsType: 'ext4', locality: 'zone' }), new Map([['s1', 'z1'], ['s3', 'z1']]));
    assert.deepEqual(local.accessibleTopology, [{ [ZONE]: 'z1' }]);
    assert.deepEqual(accessibleTopology(parseVolumeParameters({}), ['z1', 'z3']), []);
  });
});
