import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assembleChain, chainLines, NO_CLUSTER_FACTS, podsByPvc, pvIndex, rebuildRows, volumeRows, type ApiVolume, type ClusterFacts,
} from './kubectl_chain.ts';
import { forwardedUrl } from './kubectl_cluster.ts';
import { engineExecOf } from './kubectl_exec.ts';

// Shapes as `kubectl get pv -o json` and `kubectl get pods -A -o json` print them (trimmed).
const PVS = {
  kind: 'List',
  items: [
    { metadata: { name: 'pvc-1a' }, spec: { csi: { driver: 'csi.berth.io', volumeHandle: 'vol-1' }, claimRef: { namespace: 'apps', name: 'data' } }, status: { phase: 'Bound' } },
    { metadata: { name: 'pvc-other' }, spec: { csi: { driver: 'ebs.csi.aws.com', volumeHandle: 'vol-2' }, claimRef: { namespace: 'apps', name: 'x' } } },
    { metadata: { name: 'local-pv' }, spec: { hostPath: { path: '/mnt' } } },
  ],
};
const PODS = {
  items: [
    { metadata: { name: 'web-1', namespace: 'apps' }, spec: { volumes: [{ persistentVolumeClaim: { claimName: 'data' } }, { emptyDir: {} }] } },
    { metadata: { name: 'web-0', namespace: 'apps' }, spec: { volumes: [{ persistentVolumeClaim: { claimName: 'data' } }] } },
    { metadata: { name: 'other', namespace: 'db' }, spec: { volumes: [{ persistentVolumeClaim: { claimName: 'data' } }] } },
    { metadata: { name: 'no-volumes', namespace: 'apps' }, spec: {} },
  ],
};
const facts: ClusterFacts = { pvs: pvIndex(PVS), pods: podsByPvc(PODS) };

const volume: ApiVolume = {
  id: 'vol-1', name: 'pvc-1a', sizeBytes: 1 << 30, replicas: 2, status: 'degraded', publishedNodeId: 'n1',
  replicaStates: [
    { id: 'r1', volumeId: 'vol-1', poolId: 'p1', nodeId: 'n1', status: 'online' },
    { id: 'r2', volumeId: 'vol-1', poolId: 'p2', nodeId: 'n2', status: 'rebuilding', rebuildProgress: 0.425 },
  ],
  pods: [{ podName: 'recorded', podNamespace: 'apps' }],
};

test('PVs of the Berth driver map volume handles to their claims; other drivers are left out', () => {
  assert.deepEqual([...facts.pvs], [['vol-1', { pv: 'pvc-1a', phase: 'Bound', pvcNamespace: 'apps', pvcName: 'data' }]]);
  assert.equal(pvIndex(null).size, 0);
  assert.equal(pvIndex({ items: 'junk' } as unknown).size, 0);
});

test('pods map to the claims they mount, per namespace, sorted', () => {
  assert.deepEqual(facts.pods.get('apps/data'), ['web-0', 'web-1']);
  assert.deepEqual(facts.pods.get('db/data'), ['other']);
  assert.equal(facts.pods.size, 2);
});

test('volume rows carry PVC, namespace and pods from the cluster, else the recorded pods', () => {
  const [row] = volumeRows([volume], facts);
  assert.deepEqual(row, { id: 'vol-1', name: 'pvc-1a', namespace: 'apps', pvc: 'data', pods: ['web-0', 'web-1'], status: 'degraded', sizeBytes: 1 << 30, replicas: '1/2', node: 'n1' });
  const [bare] = volumeRows([volume], NO_CLUSTER_FACTS);
  assert.deepEqual([bare.namespace, bare.pvc, bare.pods], ['apps', '', ['recorded']]);
});

test('the chain joins volume, nexus, replicas, pools and nodes with their states', () => {
  const chain = assembleChain({
    volume, facts,
    nexuses: [{ id: 'vol-1', volumeId: 'vol-1', nodeId: 'n1', generation: 3, children: ['r1'] }, { id: 'x', volumeId: 'x', nodeId: 'n2' }],
    pools: [{ id: 'p1', nodeId: 'n1', name: 'fast', status: 'online', media: 'ssd' }, { id: 'p2', nodeId: 'n2', name: 'slow', status: 'degraded' }],
    nodes: [{ id: 'n1', zone: 'z1', state: { status: 'online' } }, { id: 'n2', state: { status: 'offline' } }],
  });
  assert.deepEqual(chain.pvc, { namespace: 'apps', name: 'data' });
  assert.deepEqual(chain.pv, { name: 'pvc-1a', phase: 'Bound' });
  assert.deepEqual(chain.nexus, { id: 'vol-1', nodeId: 'n1', nodeStatus: 'online', children: ['r1'], generation: 3 });
  assert.deepEqual(chain.replicas[1], {
    id: 'r2', status: 'rebuilding', rebuildProgress: 0.425, inNexus: false,
    pool: { id: 'p2', name: 'slow', status: 'degraded' }, node: { id: 'n2', status: 'offline' },
  });
  const text = chainLines(chain).join('\n');
  assert.match(text, /^pod {7}web-0, web-1$/m);
  assert.match(text, /^pvc {7}apps\/data$/m);
  assert.match(text, /nexus {2}vol-1 on n1 \[node online\] generation 3/);
  assert.match(text, /replica r2 \[rebuilding 43%\] \(not in the nexus\)/);
  assert.match(text, /pool slow \(p2\) \[degraded\] → node n2 \[offline\]/);
  assert.match(text, /pool fast \(p1\) \[online, ssd\] → node n1 \[online\] zone z1/);
});

test('an unpublished volume without a PV says so instead of inventing parts', () => {
  const chain = assembleChain({ volume: { ...volume, replicaStates: [] }, facts: NO_CLUSTER_FACTS, nexuses: [], pools: [], nodes: [] });
  assert.equal(chain.pvc, undefined);
  assert.equal(chain.nexus, undefined);
  const text = chainLines(chain).join('\n');
  assert.match(text, /pvc {7}\(not known/);
  assert.match(text, /nexus {2}\(none: the volume is not published\)/);
  const direct = assembleChain({ volume: { ...volume, target: { iqn: 'iqn.x:v', portal: '10.0.0.1:3260', replicaId: 'r1' } }, facts, nexuses: [], pools: [], nodes: [] });
  assert.match(chainLines(direct).join('\n'), /export iqn\.x:v at 10\.0\.0\.1:3260: replica r1 directly \(no nexus\)/);
});

test('rebuilds: rebuilding and awaiting replicas only, with progress', () => {
  assert.deepEqual(rebuildRows([
    ...volume.replicaStates!, { id: 'r3', volumeId: 'v', poolId: 'p', nodeId: 'n', status: 'faulted', awaitingRebuild: true },
  ]).map((r) => [r.replicaId, r.state, r.progress]), [['r2', 'rebuilding', '43%'], ['r3', 'awaiting rebuild', '']]);
});

test('the port-forward line gives the local URL', () => {
  assert.equal(forwardedUrl('Forwarding from 127.0.0.1:41234 -> 9600'), 'http://127.0.0.1:41234');
  assert.equal(forwardedUrl('Forwarding from [::1]:41234 -> 9600'), undefined);
  assert.equal(forwardedUrl('Handling connection for 41234'), undefined);
});

test('engine-local berth commands go to an engine pod; plugin commands do not', () => {
  assert.deepEqual(engineExecOf(['--node', 's1', 'pool', 'create', 'fast']), { node: 's1', args: ['pool', 'create', 'fast'] });
  assert.deepEqual(engineExecOf(['-o', 'json', 'pool', 'list']), { args: ['-o', 'json', 'pool', 'list'] });
  for (const argv of [['-n', 'volume', 'describe', 'pvc', 'x'], ['--control-plane', 'pool', 'nodes'], ['volumes'], ['describe', 'pvc', 'data'], ['-o', 'yaml', 'nodes'], ['bench'], [], ['--help']]) assert.equal(engineExecOf(argv), undefined, argv.join(' '));
  assert.throws(() => engineExecOf(['--node']), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => engineExecOf(['--node', '-o']), { code: 'INVALID_ARGUMENT' });
});

test('without kubectl, the PVC and PV names the CSI driver saved with the volume fill the rows and the chain', () => {
  const saved: ApiVolume = {
    ...volume, pods: [],
    attributes: { replicas: '2', 'csi.storage.k8s.io/pvc/name': 'orders', 'csi.storage.k8s.io/pvc/namespace': 'shop', 'csi.storage.k8s.io/pv/name': 'pvc-1a' },
  };
  const [row] = volumeRows([saved], NO_CLUSTER_FACTS);
  assert.deepEqual([row.namespace, row.pvc], ['shop', 'orders']);
  const chain = assembleChain({ volume: saved, facts: NO_CLUSTER_FACTS, nexuses: [], pools: [], nodes: [] });
  assert.deepEqual([chain.pvc, chain.pv], [{ namespace: 'shop', name: 'orders' }, { name: 'pvc-1a' }]);
  assert.match(chainLines(chain).join('\n'), /pvc {7}shop\/orders\npv {8}pvc-1a/);
  // What Kubernetes says wins over what was saved.
  assert.equal(volumeRows([{ ...saved }], facts)[0].pvc, 'data');
});
