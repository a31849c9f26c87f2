import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, makeKit } from '../reconcile/reconcile_test_kit.ts';
import type { CreateNexusRequest } from '../engine_client/engine_client_types.ts';

test('volume_rebuild_throttle: a volume\'s rebuild throttle reaches every nexus created for it; without one the control plane\'s default, else the engine\'s, applies', async () => {
  const kit = await makeKit(3);
  try {
    const calls: CreateNexusRequest[] = [];
    for (const engine of kit.engines.values()) {
      const create = engine.createNexus.bind(engine);
      engine.createNexus = async (req) => { calls.push(req); return await create(req); };
    }
    const { volume } = await kit.services.volumes.create({ name: 'pvc-th', sizeBytes: 4 * MiB, replicas: 2, rebuildThrottle: { mode: 'fixed', bytesPerSec: 50 * MiB } });
    assert.deepEqual(volume.rebuildThrottle, { mode: 'fixed', bytesPerSec: 50 * MiB });
    const again = await kit.services.volumes.create({ name: 'pvc-th', sizeBytes: 4 * MiB, replicas: 2 });
    assert.equal(again.created, false, 'not part of the volume\'s identity');
    const nodes = (await kit.services.replicas.list({ volumeId: volume.id })).map((r) => r.nodeId);
    await kit.services.publish.publish(volume.id, { nodeId: nodes[0] });
    assert.equal(calls.length, 1);
    assert.equal(calls[0].rebuildThrottleMode, 'fixed');
    assert.equal(calls[0].rebuildThrottleBytesPerSec, 50 * MiB);

    const { volume: plain } = await kit.services.volumes.create({ name: 'pvc-plain', sizeBytes: 4 * MiB, replicas: 2 });
    const pn = (await kit.services.replicas.list({ volumeId: plain.id })).map((r) => r.nodeId);
    await kit.services.publish.publish(plain.id, { nodeId: pn[0] });
    assert.equal(calls.length, 2);
    assert.equal(calls[1].rebuildThrottleMode, undefined, 'no mode sent: the engine\'s default (--rebuild-throttle-mode) applies');
    assert.equal(calls[1].rebuildThrottleBytesPerSec, undefined);

    // The control plane's own default (its --rebuild-throttle-mode) fills in for volumes that set none.
    (kit.services.ctx as { rebuildThrottleMode: string | undefined }).rebuildThrottleMode = 'fixed';
    const { volume: dflt } = await kit.services.volumes.create({ name: 'pvc-dflt', sizeBytes: 4 * MiB, replicas: 2 });
    const { volume: own } = await kit.services.volumes.create({ name: 'pvc-own', sizeBytes: 4 * MiB, replicas: 2, rebuildThrottle: { mode: 'adaptive' } });
    for (const v of [dflt, own]) {
      const vn = (await kit.services.replicas.list({ volumeId: v.id })).map((r) => r.nodeId);
      await kit.services.publish.publish(v.id, { nodeId: vn[0] });
    }
    assert.deepEqual(calls.slice(2).map((c) => c.rebuildThrottleMode), ['fixed', 'adaptive'], 'the volume\'s own mode wins over the default');
  } finally {
    await kit.close();
  }
});
