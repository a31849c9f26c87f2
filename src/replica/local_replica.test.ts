import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalReplica } from './local_replica.ts';
import { GenerationRegistry, MemoryGenerationStore } from './replica_generations.ts';
import { TestDevice } from '../nexus/nexus_test_devices.ts';

test('a local replica obeys the same fence as the network path', async () => {
  const store = new MemoryGenerationStore();
  const registry = new GenerationRegistry(store);
  const dev = new TestDevice(16);
  const old = new LocalReplica(dev, 'vol', 1, registry);
  await old.fence(1);
  await old.write(0, Buffer.alloc(512, 1), false);
  const newer = new LocalReplica(dev, 'vol', 3, registry);
  await newer.fence(3);
  assert.equal(store.get('vol'), 3, 'the fence is persisted');
  await assert.rejects(old.write(0, Buffer.alloc(512, 2), false), { code: 'STALE_GENERATION', currentGeneration: 3 });
  await assert.rejects(old.read(0, 1), { code: 'STALE_GENERATION' });
  await assert.rejects(old.fence(2), { code: 'STALE_GENERATION' });
  assert.throws(() => new LocalReplica(dev, 'vol', 2, registry), { code: 'STALE_GENERATION' });
  assert.ok((await newer.read(0, 1)).equals(Buffer.alloc(512, 1)));
});

test('raising generations persists the highest, in order', async () => {
  const seen: number[] = [];
  const registry = new GenerationRegistry({
    get: () => 0,
    set: async (_v, g) => { await new Promise((r) => setTimeout(r, g === 2 ? 20 : 1)); seen.push(g); },
  });
  await Promise.all([registry.raise('v', 2), registry.raise('v', 5), registry.raise('v', 4)]);
  assert.equal(registry.get('v'), 5);
  assert.equal(seen.at(-1), 5);
});

test('a local replica exposes readInto and releasesWriteBuffers only as its device does', async () => {
  const registry = new GenerationRegistry(new MemoryGenerationStore());
  const plain = new LocalReplica(new TestDevice(16), 'a', 1, registry);
  assert.equal(plain.readInto, undefined);
  assert.equal(plain.releasesWriteBuffers, false);

  const dev = Object.assign(new TestDevice(16), {
    releasesWriteBuffers: true,
    readInto(this: TestDevice, lba: number, count: number, dest: Buffer): Promise<void> {
      return this.read(lba, count).then((b) => { b.copy(dest); });
    },
  });
  const r = new LocalReplica(dev, 'b', 1, registry);
  assert.equal(r.releasesWriteBuffers, true);
  await r.write(2, Buffer.alloc(1024, 7), false);
  const dest = Buffer.alloc(1024);
  await r.readInto!(2, 2, dest);
  assert.ok(dest.equals(Buffer.alloc(1024, 7)));
  await new LocalReplica(dev, 'b', 4, registry).fence(4);
  await assert.rejects(r.readInto!(2, 2, dest), { code: 'STALE_GENERATION' });
});
