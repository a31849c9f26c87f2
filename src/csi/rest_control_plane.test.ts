import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { silentLogger } from '../util/log.ts';
import { DEFAULT_PARAMETERS, parseVolumeParameters } from './parameters.ts';
import { sameCanonicalParameters } from './parameters_canonical.ts';
import { RestControlPlane } from './rest_control_plane.ts';
import { podInfoOf, podUidOfTargetPath, withPodRecords } from './rest_pod_records.ts';
import { canonicalParameters, createVolumeBody, lunOfTargetUrl, parametersFromRest, type RestVolume } from './rest_views.ts';
import { mapError } from './status_map.ts';

type Handler = (req: IncomingMessage, body: unknown, res: ServerResponse) => void;

interface Fake {
  url: string;
  server: Server;
  seen: string[];
  handle: Handler;
}

async function fakeInstance(): Promise<Fake> {
  const fake: Fake = { url: '', server: createServer(), seen: [], handle: (_q, _b, res) => send(res, 500, { error: { code: 'INTERNAL', message: 'unset' } }) };
  fake.server.on('request', (req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (c: string) => (text += c));
    req.on('end', () => {
      fake.seen.push(`${req.method} ${req.url}`);
      fake.handle(req, text ? (JSON.parse(text) as unknown) : undefined, res);
    });
  });
  await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  return fake;
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

const err = (code: string, message = code) => ({ error: { code, message } });
const volume = (over: Record<string, unknown> = {}) => ({
  id: 'v1', name: 'pvc-1', sizeBytes: 8 << 20, replicas: 1, thin: false, lifecycle: 'created', status: 'online', pending: null,
  replicaStates: [{ id: 'r-1', nodeId: 'n1', poolId: 'n1:p', status: 'online' }], ...over,
});
const nodes = { nodes: [{ id: 'n1', zone: 'z1', storageGroup: 'g', state: { status: 'online' } }] };
const pub = { nodeId: 'n1', readonly: false, mode: 'SINGLE_NODE_WRITER' as const };

describe('RestControlPlane against a fake control plane', () => {
  let leader: Fake;
  let follower: Fake;

  before(async () => {
    leader = await fakeInstance();
    follower = await fakeInstance();
    follower.handle = (req, _b, res) => {
      if (req.method === 'GET') return send(res, 200, req.url === '/v1/nodes' ? nodes : volume());
      send(res, 503, err('NOT_LEADER'), { 'x-berth-leader': leader.url, 'retry-after': '1' });
    };
  });
  after(() => {
    leader.server.close();
    follower.server.close();
  });

  it('follows the NOT_LEADER hint to the leader and keeps asking it first', async () => {
    leader.seen.length = 0;
    follower.seen.length = 0;
    leader.handle = (req, body, res) => {
      if (req.url === '/v1/nodes') return send(res, 200, nodes);
      assert.deepEqual(body, { nodeId: 'n1' });
      send(res, 200, volume({ publishedNodeId: 'n1', target: { iqn: 'iqn.2026-11.io.berth:vol-v1', portal: '127.0.0.1:3261', url: 'iscsi://127.0.0.1:3261/iqn.2026-11.io.berth:vol-v1/0' } }));
    };
    const cp = new RestControlPlane({ urls: [follower.url, leader.url] });
    const ctx = await cp.publish('v1', pub);
    assert.deepEqual(ctx, { targetPortal: '127.0.0.1:3261', targetIqn: 'iqn.2026-11.io.berth:vol-v1', lun: 0 });
    assert.deepEqual(follower.seen, ['POST /v1/volumes/v1/publish']);
    await cp.publish('v1', pub);
    assert.deepEqual(follower.seen, ['POST /v1/volumes/v1/publish'], 'the known leader is asked first');
  });

  it('maps control-plane codes to the gRPC codes the CSI spec wants', async () => {
    const cases: Array<[number, object, () => Promise<unknown>, status]> = [];
    const cp = new RestControlPlane({ urls: [leader.url] });
    const args = { name: 'pvc-x', capacityBytes: 8 << 20, parameters: { ...DEFAULT_PARAMETERS, requiredTags: [], excludedTags: [] }, definingParameters: {} };
    cases.push([409, err('VOLUME_EXISTS'), () => cp.createVolume(args), status.ALREADY_EXISTS]);
    cases.push([422, err('PLACEMENT_FAILED', 'min_free_space ruled out 1 pool'), () => cp.createVolume(args), status.RESOURCE_EXHAUSTED]);
    cases.push([400, err('INVALID_ARGUMENT'), () => cp.createVolume(args), status.INVALID_ARGUMENT]);
    cases.push([501, err('NOT_IMPLEMENTED', 'publishing a replicated volume'), () => cp.publish('v1', pub), status.UNIMPLEMENTED]);
    cases.push([404, err('NODE_NOT_FOUND'), () => cp.publish('v1', pub), status.NOT_FOUND]);
    cases.push([404, err('VOLUME_NOT_FOUND'), () => cp.publish('v1', pub), status.NOT_FOUND]);
    cases.push([409, err('VOLUME_PUBLISHED', 'volume v1 is published to node n2'), () => cp.publish('v1', pub), status.FAILED_PRECONDITION]);
    cases.push([409, err('OPERATION_IN_PROGRESS'), () => cp.expandVolume('v1', 16 << 20), status.ABORTED]);
    cases.push([502, err('ENGINE_UNREACHABLE'), () => cp.expandVolume('v1', 16 << 20), status.UNAVAILABLE]);
    cases.push([404, err('ROUTE_NOT_FOUND'), () => cp.expandVolume('v1', 16 << 20), status.UNIMPLEMENTED]);
    for (const [code, body, call, want] of cases) {
      leader.handle = (req, _b, res) => (req.url === '/v1/nodes' ? send(res, 200, nodes) : send(res, code, body));
      const e = await call().then(() => assert.fail('should fail'), (x: unknown) => x);
      assert.equal(mapError(e).code, want, `${code} ${JSON.stringify(body)} → ${status[want]}, got ${mapError(e).details}`);
    }
  });

  it('treats a missing volume as gone on get, delete and unpublish', async () => {
    leader.handle = (_q, _b, res) => send(res, 404, err('VOLUME_NOT_FOUND'));
    const cp = new RestControlPlane({ urls: [leader.url] });
    assert.equal(await cp.getVolume('nope'), undefined);
    await cp.deleteVolume('nope');
    await cp.unpublish('nope', 'n1');
  });

  it('refuses to delete a published volume (FAILED_PRECONDITION) without calling DELETE', async () => {
    leader.seen.length = 0;
    leader.handle = (_q, _b, res) => send(res, 200, volume({ publishedNodeId: 'n1' }));
    const cp = new RestControlPlane({ urls: [leader.url] });
    const e = await cp.deleteVolume('v1').then(() => assert.fail('should fail'), (x: unknown) => x);
    assert.equal(mapError(e).code, status.FAILED_PRECONDITION);
    assert.deepEqual(leader.seen, ['GET /v1/volumes/v1']);
  });

  it('is UNAVAILABLE, after bounded attempts, when nothing answers or answers too slowly', async () => {
    const closed = await fakeInstance();
    await new Promise<void>((r) => closed.server.close(() => r()));
    const cp = new RestControlPlane({ urls: [closed.url], maxAttempts: 3 });
    const e = await cp.getVolume('v1').then(() => assert.fail('should fail'), (x: unknown) => x);
    assert.equal(mapError(e).code, status.UNAVAILABLE);
    assert.match(mapError(e).details, /after 3 attempts/);

    const slow = await fakeInstance();
    slow.handle = () => undefined;
    const started = Date.now();
    const timed = new RestControlPlane({ urls: [slow.url], requestTimeoutMs: 100, maxAttempts: 2 });
    const t = await timed.getVolume('v1').then(() => assert.fail('should fail'), (x: unknown) => x);
    assert.equal(mapError(t).code, status.UNAVAILABLE);
    assert.match(mapError(t).details, /timed out/);
    assert.ok(Date.now() - started < 5000);
    slow.server.closeAllConnections();
    slow.server.close();
  });

  it('is UNAVAILABLE, not INTERNAL, when the answer is not what the API documents', async () => {
    const cp = new RestControlPlane({ urls: [leader.url] });
    for (const answer of ['<html>proxy error</html>', '{}', '{"volumes": 3}']) {
      leader.handle = (_q, _b, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(answer);
      };
      const e = await (answer.includes('volumes') ? cp.listVolumes({ maxEntries: 0, startingToken: '' }) : cp.getVolume('v1')).then(
        () => assert.fail(`should fail on ${answer}`),
        (x: unknown) => x,
      );
      assert.equal(mapError(e).code, status.UNAVAILABLE, `${answer}: ${mapError(e).details}`);
    }
  });

  it('waits and asks again when no instance knows a leader yet, then gives up', async () => {
    const lost = await fakeInstance();
    lost.handle = (_q, _b, res) => send(res, 503, err('NOT_LEADER'));
    const cp = new RestControlPlane({ urls: [lost.url], maxAttempts: 3, retryDelayMs: 10 });
    const e = await cp.expandVolume('v1', 1 << 30).then(() => assert.fail('should fail'), (x: unknown) => x);
    assert.equal(mapError(e).code, status.UNAVAILABLE);
    assert.equal(lost.seen.length, 3);
    lost.server.close();
  });

  it('creates with the StorageClass mapped to the control plane body, its canonical parameters kept as attributes', async () => {
    let got: Record<string, unknown> | undefined;
    const lookups: string[] = [];
    const parameters = { ...DEFAULT_PARAMETERS, requiredTags: ['fast'], excludedTags: [], thin: true, media: 'ssd' as const, fsType: 'xfs' as const, spreadStrict: true };
    const attributes = { encrypt: 'false', fsType: 'xfs', replicas: '1', requiredTags: 'fast', spreadStrict: 'true', thin: 'true', type: 'ssd' };
    const stored = volume({ name: 'pvc-x', thin: true, replicas: 1, spread: { domain: 'zone', strict: true }, media: 'ssd', requiredTags: ['fast'], attributes });
    leader.handle = (req, body, res) => {
      if (req.url === '/v1/nodes') return send(res, 200, nodes);
      if (req.method === 'GET' && req.url?.startsWith('/v1/volumes?')) {
        lookups.push(req.url);
        // An older control plane ignores the query and lists every volume: the driver checks the name itself.
        return send(res, 200, { volumes: [volume({ id: 'v0', name: 'pvc-other' }), stored] });
      }
      got = body as Record<string, unknown>;
      send(res, 201, stored);
    };
    const cp = new RestControlPlane({ urls: [leader.url] });
    const v = await cp.createVolume({ name: 'pvc-x', capacityBytes: 8 << 20, parameters, definingParameters: { fsType: 'xfs', thin: 'true' } });
    assert.deepEqual(got, {
      name: 'pvc-x', sizeBytes: 8 << 20, replicas: 1, thin: true, spread: { domain: 'zone', strict: true }, encrypted: false, media: 'ssd',
      requiredTags: ['fast'], attributes,
    });
    assert.equal((got as Record<string, unknown> | undefined)?.qos, undefined, 'no QoS is ever sent: nothing enforces it');
    assert.deepEqual(v.parameters, parameters, 'read back from the attributes, fsType included');
    assert.deepEqual(v.accessibleTopology, [], 'attachable from every node, not only the replica\'s zone');
    const found = await cp.findVolumeByName('pvc-x');
    assert.equal(found?.id, 'v1');
    assert.equal(found?.parameters.fsType, 'xfs', 'an xfs volume reads back as xfs');
    assert.equal(await cp.findVolumeByName('pvc-none'), undefined);
    assert.deepEqual(lookups, ['/v1/volumes?name=pvc-x', '/v1/volumes?name=pvc-none'], 'looked up by name, not listed');
    const plain = await cp.getVolume('v1');
    assert.equal(plain?.parameters.fsType, 'xfs');
    // A volume made while QoS keys were still accepted: read back as made, without them.
    const old = parametersFromRest({ ...stored, attributes: { ...attributes, maxIops: '100', maxBandwidth: '1048576' } } as RestVolume);
    assert.equal(old.fsType, 'xfs');
    assert.deepEqual(old, parameters);
  });

  it('maps content sources to sourceSnapshotId / sourceVolumeId, and a gone source to NOT_FOUND', async () => {
    const bodies: unknown[] = [];
    let answer: [number, unknown] = [201, volume({ sourceSnapshotId: 's-1' })];
    leader.handle = (req, body, res) => {
      if (req.url === '/v1/nodes') return send(res, 200, nodes);
      bodies.push(body);
      send(res, answer[0], answer[1]);
    };
    const cp = new RestControlPlane({ urls: [leader.url] });
    const base = { name: 'pvc-c', capacityBytes: 8 << 20, parameters: { ...DEFAULT_PARAMETERS, requiredTags: [], excludedTags: [] }, definingParameters: {} };
    const fromSnap = await cp.createVolume({ ...base, contentSource: { kind: 'snapshot', snapshotId: 's-1' } });
    assert.deepEqual(fromSnap.contentSource, { kind: 'snapshot', snapshotId: 's-1' });
    answer = [201, volume({ sourceVolumeId: 'v0' })];
    const fromVol = await cp.createVolume({ ...base, contentSource: { kind: 'volume', volumeId: 'v0' } });
    assert.deepEqual(fromVol.contentSource, { kind: 'volume', volumeId: 'v0' });
    assert.deepEqual(bodies.map((b) => [(b as Record<string, unknown>).sourceSnapshotId, (b as Record<string, unknown>).sourceVolumeId]), [['s-1', undefined], [undefined, 'v0']]);
    answer = [404, err('SNAPSHOT_NOT_FOUND')];
    const e1 = await cp.createVolume({ ...base, contentSource: { kind: 'snapshot', snapshotId: 's-9' } }).then(() => assert.fail('should fail'), (x: unknown) => x);
    assert.equal(mapError(e1).code, status.NOT_FOUND);
    assert.match(mapError(e1).details, /source snapshot s-9/);
    answer = [404, err('VOLUME_NOT_FOUND')];
    const e2 = await cp.createVolume({ ...base, contentSource: { kind: 'volume', volumeId: 'v9' } }).then(() => assert.fail('should fail'), (x: unknown) => x);
    assert.match(mapError(e2).details, /source volume v9/);
    answer = [501, err('NOT_IMPLEMENTED', 'cloning a volume into a volume with more than one replica')];
    const e3 = await cp.createVolume({ ...base, contentSource: { kind: 'volume', volumeId: 'v0' } }).then(() => assert.fail('should fail'), (x: unknown) => x);
    assert.equal(mapError(e3).code, status.UNIMPLEMENTED);
  });
});

describe('REST views and pod records (pure)', () => {
  it('refuses what the control plane cannot record, and writes parameters one way', () => {
    const p = { ...DEFAULT_PARAMETERS, requiredTags: [], excludedTags: [] };
    assert.throws(() => createVolumeBody({ name: 'a', capacityBytes: 1 << 20, parameters: { ...p, media: 'slice' }, definingParameters: {} }), /slice/);
    assert.throws(() => createVolumeBody({ name: 'a', capacityBytes: 1 << 20, parameters: { ...p, striping: true }, definingParameters: {} }), /striping/);
    assert.deepEqual(canonicalParameters(p), { encrypt: 'false', fsType: 'ext4', replicas: '1', spreadStrict: 'false', thin: 'false' });
    const spelled = parseVolumeParameters({ replicas: '01', thin: 'TRUE', requiredTags: 'b, a,b', minVolumeSize: '1Mi', fsType: 'xfs' });
    const canon = canonicalParameters(spelled);
    assert.deepEqual(canon, { encrypt: 'false', fsType: 'xfs', minVolumeSize: '1048576', replicas: '1', requiredTags: 'a,b', spreadStrict: 'false', thin: 'true' });
    assert.deepEqual(canonicalParameters(parseVolumeParameters(canon)), canon, 'the canonical form parses back to itself');
    assert.ok(sameCanonicalParameters(spelled, parseVolumeParameters(canon)));
    assert.ok(!sameCanonicalParameters(spelled, { ...spelled, fsType: 'ext4' }), 'fsType is part of the identity');
    assert.equal(lunOfTargetUrl('iscsi://127.0.0.1:3260/iqn.2026-11.io.berth:vol-x/3'), 3);
  });

  it('reads podInfoOnMount facts and the pod uid of a kubelet target path', async () => {
    const ctx = { 'csi.storage.k8s.io/pod.name': 'pg-0', 'csi.storage.k8s.io/pod.namespace': 'db', 'csi.storage.k8s.io/pod.uid': 'u-1' };
    assert.deepEqual(podInfoOf(ctx, 'n1'), { podUid: 'u-1', podName: 'pg-0', podNamespace: 'db', nodeId: 'n1' });
    assert.equal(podInfoOf({ fsType: 'ext4' }, 'n1'), undefined);
    assert.equal(podUidOfTargetPath('/var/lib/kubelet/pods/8d3c-11/volumes/kubernetes.io~csi/pvc-1/mount'), '8d3c-11');
    assert.equal(podUidOfTargetPath('/mnt/x'), undefined);

    const calls: string[] = [];
    const recorder = {
      recordPod: async (v: string, pod: { podUid: string }) => void calls.push(`record ${v} ${pod.podUid}`),
      forgetPod: async () => {
        throw new Error('control plane down');
      },
    };
    const h = withPodRecords({ NodePublishVolume: async () => ({}), NodeUnpublishVolume: async () => ({}) }, recorder, 'n1', silentLogger());
    await h.NodePublishVolume({ volume_id: 'v1', volume_context: ctx });
    await h.NodeUnpublishVolume({ volume_id: 'v1', target_path: '/var/lib/kubelet/pods/u-1/volumes/kubernetes.io~csi/pvc-1/mount' });
    assert.deepEqual(calls, ['record v1 u-1'], 'a failing forget does not fail the unpublish');
  });
});
