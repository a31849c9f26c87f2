import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, makeKit } from '../reconcile/reconcile_test_kit.ts';
import { putSpec, snapshotKey } from '../service/service_records.ts';
import { SpecLifecycle } from '../model/spec_common.ts';
import type { SnapshotSpec } from '../model/snapshot_spec.ts';
import { snapshotSpace } from './snapshot_space.ts';

test('snapshot space: each copy\'s exclusive bytes from its engine; an offline node or an older engine says why', async () => {
  const kit = await makeKit(3, { heartbeatDeadlineMs: 1000, nodeLossGraceMs: 60_000 });
  const ctx = kit.services.ctx;
  try {
    const { volume } = await kit.services.volumes.create({ name: 'pvc-snap', sizeBytes: 8 * MiB, replicas: 2 });
    const replicas = await kit.services.replicas.list({ volumeId: volume.id });
    const spec: SnapshotSpec = {
      id: 's-1', name: 'nightly', volumeId: volume.id, sizeBytes: 8 * MiB, createdAtMs: 1,
      replicaSnapshots: replicas.map((r) => ({ replicaId: r.id, poolId: r.poolId })), lifecycle: SpecLifecycle.Created,
    };
    await putSpec(ctx.store, snapshotKey(spec.id), spec, undefined);
    await putSpec(ctx.store, snapshotKey('s-other'), { ...spec, id: 's-other', volumeId: 'another' }, undefined);
    const asked: string[] = [];
    const get = async (endpoint: string, path: string): Promise<unknown> => {
      asked.push(`${endpoint} ${path}`);
      return endpoint === replicas[0].nodeId ? { exclusiveBytes: 3 * MiB, allocatedBytes: 5 * MiB } : { allocatedBytes: 5 * MiB };
    };
    const [s] = await snapshotSpace(ctx, volume.id, get);
    assert.deepEqual([s.id, s.name, s.sizeBytes], ['s-1', 'nightly', 8 * MiB]);
    assert.deepEqual(s.copies.map((c) => [c.nodeId, c.exclusiveBytes, c.allocatedBytes, c.note ?? '']), [
      [replicas[0].nodeId, 3 * MiB, 5 * MiB, ''],
      [replicas[1].nodeId, null, 5 * MiB, `the engine on ${replicas[1].nodeId} does not report exclusiveBytes`],
    ]);
    assert.deepEqual(asked.sort(), replicas.map((r) => `${r.nodeId} /v1/pools/p/snapshots/s-1`).sort());

    // The second copy's node goes offline: not asked, and the copy says so.
    kit.clock.now += 5000;
    for (const n of ['n1', 'n2', 'n3'].filter((x) => x !== replicas[1].nodeId)) await kit.beat(n);
    ctx.registry.tick(kit.clock.now);
    asked.length = 0;
    const [later] = await snapshotSpace(ctx, volume.id, async (e, p) => {
      if (e === replicas[0].nodeId) throw new Error('GET answered POOL_NOT_FOUND');
      return get(e, p);
    });
    assert.deepEqual(later.copies.map((c) => c.note), [
      `cannot read the copy from ${replicas[0].nodeId}: GET answered POOL_NOT_FOUND`, `node ${replicas[1].nodeId} is not online`,
    ]);
  } finally {
    await kit.close();
  }
});
