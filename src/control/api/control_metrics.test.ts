import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../util/log.ts';
import { makeKit, MiB } from '../reconcile/reconcile_test_kit.ts';
import { ReconcileLoop } from '../reconcile/index.ts';
import { buildControlApi } from './api_server.ts';

test('control-plane /metrics: leader, node states, pending intents, reconciler runs and errors', async () => {
  const kit = await makeKit(2);
  const loop = new ReconcileLoop(kit.services.ctx, [
    { name: 'fine', run: async () => 0 },
    { name: 'broken', run: async () => { throw new Error('store down'); } },
  ]);
  await loop.runOnce();
  // n2 stops beating: past the heartbeat deadline it is offline, n1 stays online.
  kit.clock.now += 20_000;
  await kit.beat('n1');
  kit.services.ctx.registry.tick(kit.clock.now);
  const app = await buildControlApi(kit.services, silentLogger(), { storeKind: 'sqlite', reconcileStats: loop.stats });
  try {
    const before = await app.inject({ method: 'GET', url: '/metrics' });
    const refusedBefore = Number(/^berth_placement_refusals_total (\d+)$/m.exec(before.body)?.[1]);
    // Three replicas on a fleet of two nodes (one online): placement refuses.
    const refused = await app.inject({ method: 'POST', url: '/v1/volumes', payload: { name: 'v3', sizeBytes: 4 * MiB, replicas: 3 } });
    assert.equal(refused.json().error.code, 'PLACEMENT_FAILED');
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.ok(res.body.split('\n').includes(`berth_placement_refusals_total ${refusedBefore + 1}`), res.body);
    assert.match(res.body, /^berth_placement_pools_ruled_out_total\{filter="[a-z_]+"\} [1-9]/m);
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    const lines = res.body.split('\n');
    assert.ok(lines.includes('berth_control_leader 1'));
    assert.ok(lines.includes('berth_node_state{node="n1",zone="zone-n1",state="online"} 1'), res.body);
    assert.ok(lines.includes('berth_node_state{node="n2",zone="zone-n2",state="offline"} 1'), res.body);
    assert.ok(lines.includes('berth_node_state{node="n2",zone="zone-n2",state="online"} 0'));
    assert.ok(lines.includes('berth_control_pending_intents{kind="volume"} 0'));
    assert.ok(lines.includes('berth_reconcile_runs_total{reconciler="fine"} 1'));
    assert.ok(lines.includes('berth_reconcile_errors_total{reconciler="fine"} 0'));
    assert.ok(lines.includes('berth_reconcile_errors_total{reconciler="broken"} 1'));
    assert.ok(lines.includes('berth_reconcile_last_success_timestamp_seconds{reconciler="broken"} 0'));
    assert.ok(lines.some((l) => l.startsWith('process_resident_memory_bytes ')));
  } finally {
    await app.close();
    kit.close();
  }
});
