import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHeartbeat } from '../control/registry/registry_heartbeat.ts';
import { buildHeartbeat } from './heartbeat.ts';
import { parseEngineArgs } from './engine_args.ts';
import type { PoolView } from './engine_types.ts';
import type { PoolCondition } from '../pool/pool_condition.ts';
import { NodeRegistry } from '../control/registry/node_registry.ts';
import { placeReplicas } from '../control/placement/placement_index.ts';

test('the engine\'s heartbeat is what the control plane\'s registry parses', () => {
  const hb = buildHeartbeat(
    { nodeId: 'node-a', endpoint: '127.0.0.1:9500', labels: { zone: 'z1', storageGroup: 'r7', media: 'hdd', poolTags: 'fast+local', initiatorIqn: 'iqn.2026-11.io.x:a' }, engineVersion: '0.1.0' },
    [
      { name: 'p1', uuid: 'u', path: '/x', state: 'online', formatVersion: 1, extentSize: 1 << 20, capacityBytes: 1000, usedBytes: 10, freeBytes: 990, volumeCount: 2, thinProvisionedBytes: 300, condition: 'ok' },
      { name: 'p2', path: '/y', state: 'faulted', reason: 'gone' },
    ],
  );
  const parsed = parseHeartbeat(JSON.parse(JSON.stringify(hb)));
  assert.equal(parsed.zone, 'z1');
  assert.equal(parsed.storageGroup, 'r7');
  assert.equal(parsed.labels.initiatorIqn, 'iqn.2026-11.io.x:a');
  assert.deepEqual(parsed.pools.map((p) => [p.id, p.media, p.status, p.committedBytes, p.replicaCount, p.tags.join('+')]), [
    ['node-a:p1', 'hdd', 'online', 300, 2, 'fast+local'],
    ['node-a:p2', 'hdd', 'faulted', 0, 0, 'fast+local'],
  ]);
});

test('a pool that cannot take new data (full, host full, a failed fdatasync) beats as degraded, and placement passes it by', () => {
  const pool = (name: string, condition: PoolCondition): PoolView => ({
    name, uuid: name, path: `/${name}`, state: 'online', formatVersion: 4, extentSize: 1 << 20, capacityBytes: 2 ** 34,
    usedBytes: 0, freeBytes: 2 ** 34, volumeCount: 0, thinProvisionedBytes: 0, condition,
  });
  const conditions: PoolCondition[] = ['ok', 'full', 'hostFull', 'syncFailed'];
  const hb = buildHeartbeat({ nodeId: 'n', endpoint: '127.0.0.1:9500', labels: {}, engineVersion: '' }, conditions.map((c) => pool(c, c)));
  assert.deepEqual(hb.pools.map((p) => p.status), ['online', 'degraded', 'degraded', 'degraded']);
  const registry = new NodeRegistry(0, { timing: { heartbeatDeadlineMs: 15_000, nodeLossGraceMs: 300_000 } });
  registry.heartbeat(parseHeartbeat(JSON.parse(JSON.stringify(hb))), 1000);
  const placed = placeReplicas(registry.fleet(), { replicas: 1, sizeBytes: 2 ** 30, thin: true });
  assert.deepEqual([...placed.pools], ['n:ok']);
});

test('topology defaults when the labels do not say', () => {
  const hb = buildHeartbeat({ nodeId: 'n', endpoint: 'h:1', labels: { 'topology.kubernetes.io/zone': 'eu-1a' }, engineVersion: '' }, []);
  assert.equal(hb.zone, 'eu-1a');
  assert.equal(hb.storageGroup, 'default');
});

test('engine flags: --control-plane needs --node-id; labels are k=v pairs', () => {
  const a = parseEngineArgs(['--control-plane', 'http://127.0.0.1:9600,http://127.0.0.1:9601', '--node-id', 'node-a', '--labels', 'zone=z1,initiatorIqn=iqn.2026-11.io.x:a'], {});
  assert.deepEqual(a.controlPlane, ['http://127.0.0.1:9600', 'http://127.0.0.1:9601']);
  assert.equal(a.nodeId, 'node-a');
  assert.deepEqual(a.labels, { zone: 'z1', initiatorIqn: 'iqn.2026-11.io.x:a' });
  assert.throws(() => parseEngineArgs(['--control-plane', 'http://127.0.0.1:9600'], {}), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => parseEngineArgs(['--control-plane', 'ftp://x', '--node-id', 'n'], {}), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => parseEngineArgs(['--labels', 'novalue'], {}), { code: 'INVALID_ARGUMENT' });
  assert.equal(parseEngineArgs([], {}).controlPlane, undefined);
});
