import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Nexus } from './nexus.ts';
import { VirtualClock, virtualCountedDevice } from './nexus_virtual_clock.ts';

const BLOCKS = 1024;
// Simulated latencies on a virtual clock: the outcome does not depend on how busy the host is.
let clock = new VirtualClock();
const counted = (latencyMs: number): ReturnType<typeof virtualCountedDevice> => virtualCountedDevice(clock, latencyMs, BLOCKS);
beforeEach(() => { clock = new VirtualClock(); });

test('reads favour the child that answers faster, and still probe the slower one', () => clock.run(async () => {
  const fast = counted(0);
  const slow = counted(15);
  const nexus = await Nexus.create({ name: 'rb', generation: 1, children: [{ name: 'fast', device: fast.dev }, { name: 'slow', device: slow.dev }] });
  try {
    // Batches of 8 in flight, as an initiator at QD8 would send them.
    for (let round = 0; round < 40; round++) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => nexus.read((round * 8 + i) % BLOCKS, 1)));
    }
    assert.equal(fast.reads() + slow.reads(), 320);
    assert.ok(fast.reads() > 4 * slow.reads(), `fast ${fast.reads()} vs slow ${slow.reads()}`);
    assert.ok(slow.reads() >= 320 / 32, `the slow child was probed ${slow.reads()} times`);
  } finally {
    nexus.close();
  }
}));

test('children of equal speed share reads about evenly', () => clock.run(async () => {
  const a = counted(1);
  const b = counted(1);
  const nexus = await Nexus.create({ name: 'eq', generation: 1, children: [{ name: 'a', device: a.dev }, { name: 'b', device: b.dev }] });
  try {
    for (let round = 0; round < 30; round++) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => nexus.read((round * 8 + i) % BLOCKS, 1)));
    }
    assert.ok(Math.abs(a.reads() - b.reads()) <= 240 / 4, `a ${a.reads()} vs b ${b.reads()}`);
  } finally {
    nexus.close();
  }
}));
