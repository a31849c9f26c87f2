import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Nexus } from './nexus.ts';
import { TestDevice } from './nexus_test_devices.ts';
import { VirtualClock, virtualCountedDevice } from './nexus_virtual_clock.ts';
import { NexusReadPolicy, type NexusReadPolicyName } from './nexus_options.ts';
import type { NexusChildSpec } from './nexus_child.ts';
import { LOCAL_READ_PROBE_INTERVAL } from './nexus_read_policy.ts';

const BLOCKS = 1024;

/*
 * Every test runs on a virtual clock: device latencies are simulated and the nexus
 * measures them exactly, so the outcome does not depend on how busy the host is (a
 * loaded host once turned 20 ms vs 1 ms into 310 local reads and 10 remote).
 */
let clock = new VirtualClock();
const counted = (latencyMs: number): ReturnType<typeof virtualCountedDevice> => virtualCountedDevice(clock, latencyMs, BLOCKS);

/** `rounds` batches of `depth` reads in flight at once, as an initiator at that queue depth sends them. */
async function readBatches(nexus: Nexus, rounds: number, depth: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    await Promise.all(Array.from({ length: depth }, (_, i) => nexus.read((round * depth + i) % BLOCKS, 1)));
  }
}

async function withNexus(children: NexusChildSpec[], readPolicy: NexusReadPolicyName | undefined, body: (n: Nexus) => Promise<void>): Promise<void> {
  await clock.run(async () => {
    const nexus = await Nexus.create({ name: 'rp', generation: 1, children, readPolicy });
    try { await body(nexus); } finally { nexus.close(); }
  });
}

beforeEach(() => { clock = new VirtualClock(); });

test('by default the local replica serves the reads while it keeps up, even at depth', async () => {
  const local = counted(1);
  const remote = counted(1);
  await withNexus([{ name: 'remote', device: remote.dev }, { name: 'local', device: local.dev, local: true }], undefined, async (nexus) => {
    await readBatches(nexus, 30, 16);
    assert.equal(local.reads() + remote.reads(), 480);
    // Only the rare probe that keeps the remote estimate current leaves the node (a
    // little more if a loaded test host delays the local replica's answers).
    assert.ok(remote.reads() <= 480 / 16, `remote served ${remote.reads()}`);
  });
});

test('a fast local replica at depth serves every read: no probe or spill leaves the node', async () => {
  const local = new TestDevice(BLOCKS);
  // Answers within the microtask queue, as a page-cache hit read in-process does: never near LOCAL_SPILL_MIN_MS.
  local.read = (lba: number, count: number) => Promise.resolve(Buffer.from(local.data.subarray(lba * 512, (lba + count) * 512)));
  const remote = counted(0);
  await withNexus([{ name: 'remote', device: remote.dev }, { name: 'local', device: local, local: true }], undefined, async (nexus) => {
    // Well past LOCAL_READ_PROBE_INTERVAL reads, with a queue at the local child.
    await readBatches(nexus, 40, 32);
    // A probe every LOCAL_READ_PROBE_INTERVAL reads would be 5; a host hiccup (a long
    // GC or JIT pause inflating the local latency) may still send one or two away.
    assert.ok(remote.reads() < 1280 / LOCAL_READ_PROBE_INTERVAL, `remote served ${remote.reads()}`);
  });
});

test('reads spill to a remote replica when the local one is saturated', async () => {
  const local = counted(20);
  const remote = counted(1);
  await withNexus([{ name: 'local', device: local.dev, local: true }, { name: 'remote', device: remote.dev }], undefined, async (nexus) => {
    await readBatches(nexus, 20, 16);
    assert.ok(remote.reads() >= 320 / 8, `local ${local.reads()} vs remote ${remote.reads()}`);
    assert.ok(local.reads() >= 20 * 4, `the local replica keeps its share: ${local.reads()}`);
  });
});

test('a slow local replica without a queue is not saturated: reads stay local', async () => {
  const local = counted(5);
  const remote = counted(0);
  await withNexus([{ name: 'local', device: local.dev, local: true }, { name: 'remote', device: remote.dev }], undefined, async (nexus) => {
    await readBatches(nexus, 40, 2);
    assert.ok(remote.reads() <= 2, `remote served ${remote.reads()}`);
  });
});

test('without a local replica reads are balanced across the remotes', async () => {
  const a = counted(1);
  const b = counted(1);
  await withNexus([{ name: 'a', device: a.dev }, { name: 'b', device: b.dev }], NexusReadPolicy.PREFER_LOCAL, async (nexus) => {
    await readBatches(nexus, 30, 8);
    assert.ok(Math.min(a.reads(), b.reads()) >= 240 / 4, `a ${a.reads()} vs b ${b.reads()}`);
  });
});

test('the balanced policy spreads reads over a local and a remote replica alike', async () => {
  const local = counted(1);
  const remote = counted(1);
  await withNexus([{ name: 'local', device: local.dev, local: true }, { name: 'remote', device: remote.dev }], NexusReadPolicy.BALANCED, async (nexus) => {
    await readBatches(nexus, 30, 8);
    assert.ok(Math.min(local.reads(), remote.reads()) >= 240 / 4, `local ${local.reads()} vs remote ${remote.reads()}`);
  });
});

test('a stale local replica serves no reads; a failed one hands its reads to the remote', async () => {
  const local = counted(0);
  const remote = counted(0);
  await withNexus([{ name: 'local', device: local.dev, local: true, state: 'stale' }, { name: 'remote', device: remote.dev }], undefined, async (nexus) => {
    await readBatches(nexus, 10, 8);
    assert.equal(local.reads(), 0);
    assert.equal(remote.reads(), 80);
  });
  const l2 = counted(0);
  const r2 = counted(0);
  await withNexus([{ name: 'local', device: l2.dev, local: true }, { name: 'remote', device: r2.dev }], undefined, async (nexus) => {
    l2.dev.mode = 'error';
    await readBatches(nexus, 10, 8);
    assert.equal(nexus.children().find((c) => c.name === 'local')?.state, 'faulted');
    assert.equal(r2.reads(), 80);
  });
});

test('a rebuilding local replica serves no reads until it is in sync', async () => {
  const remote = counted(0);
  const local = counted(0);
  local.dev.latency = 2; // the copy takes a while, so reads run during it
  await withNexus([{ name: 'remote', device: remote.dev }], undefined, async (nexus) => {
    const { done } = await nexus.addChild({ name: 'local', device: local.dev, local: true }, { full: true });
    let during = 0;
    while (nexus.children().find((c) => c.name === 'local')?.state === 'rebuilding') {
      await readBatches(nexus, 1, 8);
      during += 8;
    }
    assert.ok(during > 0, 'reads ran during the rebuild');
    assert.equal(local.reads(), 0);
    assert.equal(await done, 'online');
    local.dev.latency = 0; // now as fast as the remote: it takes the reads
    await readBatches(nexus, 4, 8);
    assert.ok(local.reads() >= 30, `the rebuilt local replica now serves reads: ${local.reads()}`);
  });
});
