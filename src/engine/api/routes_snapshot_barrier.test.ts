import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../engine.ts';
import { Nexus } from '../../nexus/index.ts';
import { TestDevice } from '../../nexus/nexus_test_devices.ts';
import { silentLogger } from '../../util/log.ts';
import { buildApiServer } from './api_server.ts';
import { NexusNotFoundError } from '../nexus_registry_errors.ts';

async function fakeEngine(pool: object) {
  const devs = [new TestDevice(256), new TestDevice(256)];
  const nexus = await Nexus.create({ name: 'vol', generation: 1, children: devs.map((device, i) => ({ name: `n${i}:1/p/r${i}`, device })) });
  const exported = new TestDevice(256);
  const engine = {
    listPools: () => [],
    listExports: () => [],
    importedPool: () => pool,
    exportUnit: (p: string, v: string) => (p === 'p' && v === 'solo' ? { device: exported } : undefined),
    nexuses: {
      device: (name: string) => {
        if (name !== 'vol') throw new NexusNotFoundError(name);
        return { nexus };
      },
      describe: () => ({ replicas: devs.map((_, i) => ({ name: `n${i}:1/p/r${i}`, node: `n${i}:1`, pool: 'p', volume: `r${i}` })) }),
    },
  };
  return { engine: engine as unknown as Engine, nexus, devs, exported };
}

test('snapshot_barrier_api: pause holds writes and names the in-sync replicas; resume lets them go; a second resume is NEXUS_PAUSE_LOST', async () => {
  const { engine, nexus } = await fakeEngine({});
  const app = await buildApiServer(engine, silentLogger());
  try {
    const paused = await app.inject({ method: 'POST', url: '/v1/nexus/vol/pause', payload: { token: 'snap-1', leaseMs: 5000 } });
    assert.equal(paused.statusCode, 200, paused.body);
    assert.deepEqual(paused.json().online.map((c: { pool: string; volume: string }) => `${c.pool}/${c.volume}`), ['p/r0', 'p/r1']);
    let written = false;
    const w = nexus.write(0, Buffer.alloc(512, 1), false).then(() => { written = true; });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(written, false);
    const busy = await app.inject({ method: 'POST', url: '/v1/nexus/vol/pause', payload: { token: 'snap-2' } });
    assert.equal(busy.statusCode, 409);
    assert.equal(busy.json().error.code, 'NEXUS_PAUSE_BUSY');
    const resumed = await app.inject({ method: 'POST', url: '/v1/nexus/vol/resume', payload: { token: 'snap-1' } });
    assert.equal(resumed.statusCode, 204, resumed.body);
    await w;
    const again = await app.inject({ method: 'POST', url: '/v1/nexus/vol/resume', payload: { token: 'snap-1' } });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'NEXUS_PAUSE_LOST');
    for (const payload of [{}, { token: 'a b' }, { token: 'x', leaseMs: 0 }, { token: 'x', leaseMs: 60_000 }]) {
      const r = await app.inject({ method: 'POST', url: '/v1/nexus/vol/pause', payload });
      assert.equal(r.statusCode, 400, JSON.stringify(payload));
    }
  } finally {
    await app.close();
    nexus.close();
  }
});

/** Counts the device's flushes. */
function countFlushes(d: TestDevice): () => number {
  let n = 0;
  const flush = d.flush.bind(d);
  d.flush = () => { n++; return flush(); };
  return () => n;
}

test('snapshot_flush_api: a nexus flush reaches every child and an export flush its device, in rounds; an unknown nexus or export is 404', async () => {
  const { engine, nexus, devs, exported } = await fakeEngine({});
  const childFlushes = devs.map(countFlushes);
  const exportFlushes = countFlushes(exported);
  const app = await buildApiServer(engine, silentLogger());
  try {
    const n = await app.inject({ method: 'POST', url: '/v1/nexus/vol/flush' });
    assert.equal(n.statusCode, 200, n.body);
    const { rounds, flushMs } = n.json();
    // How many rounds depends on how quick each was on this machine; each round reached every child.
    assert.ok(rounds >= 1 && rounds <= 8, String(rounds));
    assert.ok(typeof flushMs === 'number' && flushMs >= 0);
    assert.deepEqual(childFlushes.map((c) => c()), [rounds, rounds]);

    const e = await app.inject({ method: 'POST', url: '/v1/exports/p/solo/flush' });
    assert.equal(e.statusCode, 200, e.body);
    assert.equal(exportFlushes(), e.json().rounds);
    assert.ok(e.json().rounds >= 1);

    const noNexus = await app.inject({ method: 'POST', url: '/v1/nexus/other/flush' });
    assert.equal(noNexus.statusCode, 404, noNexus.body);
    assert.equal(noNexus.json().error.code, 'NEXUS_NOT_FOUND');
    const noExport = await app.inject({ method: 'POST', url: '/v1/exports/p/absent/flush' });
    assert.equal(noExport.statusCode, 404, noExport.body);
    assert.equal(noExport.json().error.code, 'EXPORT_NOT_FOUND');
  } finally {
    await app.close();
    nexus.close();
  }
});

test('snapshot_blocks_api: allocated and delta in pages; 501 NOT_IMPLEMENTED from a pool that tracks no blocks', async () => {
  const info = () => ({ sizeBytes: 1 << 20, blockSize: 4096 });
  const tracked = {
    snapshotInfo: info,
    snapshotAllocated: () => [{ offset: 0, length: 4096 }, { offset: 4096, length: 4096 }, { offset: 65536, length: 8192 }],
    snapshotDelta: (base: string, target: string) => (base === 's1' && target === 's2' ? [{ offset: 65536, length: 4096 }] : []),
  };
  const { engine, nexus } = await fakeEngine(tracked);
  nexus.close();
  const app = await buildApiServer(engine, silentLogger());
  try {
    const a = await app.inject({ method: 'GET', url: '/v1/pools/p/snapshots/s2/allocated?maxResults=1' });
    assert.equal(a.statusCode, 200, a.body);
    assert.deepEqual(a.json(), { sizeBytes: 1 << 20, blockSize: 4096, ranges: [{ offset: 0, length: 8192 }], nextOffset: 65536 });
    const d = await app.inject({ method: 'GET', url: '/v1/pools/p/snapshots/s2/delta?base=s1' });
    assert.deepEqual(d.json().ranges, [{ offset: 65536, length: 4096 }]);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/pools/p/snapshots/s2/delta' })).statusCode, 400);
  } finally {
    await app.close();
  }
  const { engine: old, nexus: n2 } = await fakeEngine({ snapshotInfo: info });
  n2.close();
  const app2 = await buildApiServer(old, silentLogger());
  try {
    const r = await app2.inject({ method: 'GET', url: '/v1/pools/p/snapshots/s2/allocated' });
    assert.equal(r.statusCode, 501);
    assert.equal(r.json().error.code, 'NOT_IMPLEMENTED');
  } finally {
    await app2.close();
  }
});
