import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../engine.ts';
import type { NexusView } from '../nexus_view.ts';
import { silentLogger } from '../../util/log.ts';
import { buildApiServer } from './api_server.ts';

/** A stand-in engine whose nexus registry records throttle changes. */
function fakeEngine() {
  const calls: unknown[] = [];
  const view = (over: Partial<NexusView> = {}): NexusView => ({
    name: 'vol', uuid: '7c1d2f0e-0000-4000-8000-000000000001', generation: 1, state: 'online', sizeBytes: 1048576, blockSize: 512,
    thin: true, rebuildThrottleBytesPerSec: 0, rebuildThrottleMode: 'adaptive', replicas: [], ...over,
  });
  const engine = {
    listPools: () => [],
    listExports: () => [],
    nexuses: {
      list: () => [view()],
      create: async (req: unknown) => { calls.push(['create', req]); return view(); },
      setThrottle: async (name: string, change: { bytesPerSec?: number; mode?: string }) => {
        calls.push(['throttle', name, change]);
        return view({ rebuildThrottleBytesPerSec: change.bytesPerSec ?? 0, rebuildThrottleMode: change.mode ?? 'adaptive' });
      },
    },
  };
  return { engine: engine as unknown as Engine, calls };
}

test('nexus_throttle_api: PATCH sets the mode, the cap or both; the view shows the mode in force', async () => {
  const { engine, calls } = fakeEngine();
  const app = await buildApiServer(engine, silentLogger());
  try {
    const mode = await app.inject({ method: 'PATCH', url: '/v1/nexus/vol', payload: { rebuildThrottleMode: 'fixed' } });
    assert.equal(mode.statusCode, 200, mode.body);
    assert.equal(mode.json().rebuildThrottleMode, 'fixed');
    const both = await app.inject({ method: 'PATCH', url: '/v1/nexus/vol', payload: { rebuildThrottleMode: 'adaptive', rebuildThrottleBytesPerSec: 1000000 } });
    assert.equal(both.statusCode, 200);
    assert.equal(both.json().rebuildThrottleBytesPerSec, 1000000);
    assert.deepEqual(calls, [
      ['throttle', 'vol', { bytesPerSec: undefined, mode: 'fixed' }],
      ['throttle', 'vol', { bytesPerSec: 1000000, mode: 'adaptive' }],
    ]);
    for (const payload of [{}, { rebuildThrottleMode: 'turbo' }, { rebuildThrottleBytesPerSec: -1 }]) {
      const r = await app.inject({ method: 'PATCH', url: '/v1/nexus/vol', payload });
      assert.equal(r.statusCode, 400, JSON.stringify(payload));
      assert.equal(r.json().error.code, 'INVALID_ARGUMENT');
    }
    const created = await app.inject({
      method: 'POST', url: '/v1/nexus', payload: { name: 'vol', replicas: [{ node: 'local', pool: 'p', volume: 'v' }], rebuildThrottleMode: 'fixed' },
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal((calls[2] as [string, { rebuildThrottleMode: string }])[1].rebuildThrottleMode, 'fixed');
    assert.equal(calls.length, 3, 'refused requests never reached the engine');
  } finally {
    await app.close();
  }
});
